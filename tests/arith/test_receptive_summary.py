"""Receptive fields against gradient support of real models; summary against real modules."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxcnn import arith
from jaxcnn import layers as L
from jaxcnn.arith import Window


def _support(model, shape, unit):
    """Input pixels whose perturbation changes output unit ``unit`` (nonzero gradient).

    Kernels are positive and there are no activations, so no cancellation can hide a pixel.
    """
    x = jnp.ones(shape)
    v = model.init(jax.random.key(0), x)
    v = jax.tree_util.tree_map(lambda a: jnp.abs(a) + 0.1, v)
    grad = jax.grad(lambda x: model.apply(v, x)[(0, *unit, 0)])(x)
    return np.abs(np.asarray(grad[0]).sum(-1)) > 0  # (*spatial,) bool


def _expected(field, unit, spatial):
    mask = np.zeros(spatial, bool)
    spans = zip(field.span(unit), spatial, strict=True)
    idx = tuple(slice(max(lo, 0), max(min(hi, n - 1) + 1, 0)) for (lo, hi), n in spans)
    mask[idx] = True
    return mask


def test_notes_receptive_field_example_is_8x8_not_4x4():
    # 12x12 -> conv 3x3 stride 1 pad 1 -> pool 3x3 stride 3 -> conv 2x2 (the notes' example)
    model = L.Sequential([L.Conv2D(2, 3, padding=1), L.AvgPool(3), L.Conv2D(1, 2)])
    fields = arith.receptive_fields([Window(3, 1, 1, 1), Window(3, 3), Window(2)])
    assert [f.size for f in fields] == [(3, 3), (5, 5), (8, 8)]
    assert [f.jump for f in fields] == [(1, 1), (3, 3), (3, 3)]
    support = _support(model, (1, 12, 12, 1), (1, 1))
    assert support.sum() == 64 and np.array_equal(support, _expected(fields[-1], (1, 1), (12, 12)))
    # unit (0, 0) starts in the padding (start = -1): only 7x7 real pixels
    assert _support(model, (1, 12, 12, 1), (0, 0)).sum() == 49


@pytest.mark.slow  # ~25 s of eager gradients; the notes' example above runs by default
@settings(max_examples=5)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["conv", "pool"]),
            st.integers(1, 3),
            st.integers(1, 2),
            st.integers(1, 2),
            st.integers(0, 1),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_receptive_field_equals_gradient_support_1d(spec):
    layers, windows, size = [], [], 24
    for kind, k, s, d, p in spec:
        if kind == "conv":
            layers.append(L.Conv1D(1, k, stride=s, dilation=d, padding=p))
            windows.append(Window(k, s, d, p))
        else:
            p = min(p, k // 2)
            layers.append(L.AvgPool(k, stride=s, padding=p))
            windows.append(Window(k, s, 1, p))
    model = L.Sequential(layers)
    try:
        out = jax.eval_shape(model.init_with_output, jax.random.key(0), jnp.ones((1, size, 1)))[0]
    except ValueError:
        return  # the chain does not fit in 24 pixels
    field = arith.receptive_fields(windows, ndim=1)[-1]
    for unit in {0, out.shape[1] // 2, out.shape[1] - 1}:
        got = _support(model, (1, size, 1), (unit,))
        exact, clipped = _taps_through_the_chain(windows, size, unit)
        assert np.array_equal(got, exact), (spec, unit)
        # The closed-form field is an upper bound: nothing outside it ...
        assert not np.any(got & ~_expected(field, (unit,), (size,))), (spec, unit)
        # ... and where no tap fell into padding, its extent is exactly the support's.
        if not clipped:
            ((lo, hi),) = field.span((unit,))
            assert np.flatnonzero(got)[[0, -1]].tolist() == [lo, hi], (spec, unit)


def _taps_through_the_chain(windows, size, unit):
    """Input pixels connected to output ``unit`` through real (unpadded) positions only, by
    walking the chain backwards; and whether any layer dropped a tap that fell into padding.

    The closed-form field counts taps that land in an inner layer's padding; no input pixel
    reaches the output through those, so the gradient's support can be smaller than the field.
    """
    sizes = [size]
    for w in windows:
        sizes.append((sizes[-1] + 2 * w.padding - w.dilation * (w.kernel - 1) - 1) // w.stride + 1)
    positions, clipped = {unit}, False
    for i in reversed(range(len(windows))):
        w = windows[i]
        taps = {
            o * w.stride - w.padding + t * w.dilation for o in positions for t in range(w.kernel)
        }
        positions = {t for t in taps if 0 <= t < sizes[i]}
        clipped |= positions != taps
    mask = np.zeros(size, bool)
    mask[sorted(positions)] = True
    return mask, clipped


def test_summary_matches_real_modules():
    model = L.Sequential(
        [
            L.Conv2D(8, 3, padding="SAME"),
            L.BatchNorm(),
            nn.relu,
            L.MaxPool(2),
            L.ResidualBlock2D(16, stride=2),
            L.Dropout(0.1),
            L.GlobalAvgPool(),
            L.Dense(10),
        ]
    )
    lines = []
    rows = arith.summary(model, (2, 12, 12, 3), print_fn=lines.append)
    x = jnp.ones((2, 12, 12, 3))
    variables = jax.jit(model.init)(jax.random.key(0), x)
    total = rows[-1]
    assert total["type"] == "Total"
    assert total["params"] == arith.count_params(variables["params"])
    assert total["non_trainable"] == arith.count_params(variables["batch_stats"])
    top = [r for r in rows[:-1] if r["depth"] == 1]
    assert sum(r["params"] for r in top) == total["params"]
    assert [r["type"] for r in top] == [
        "Conv2D",
        "BatchNorm",
        "MaxPool",
        "ResidualBlock2D",
        "Dropout",
        "GlobalAvgPool",
        "Dense",
    ]
    # output shapes as the real model computes them (Flax records each sub-module's output)
    capture = jax.jit(
        lambda v, x: model.apply(v, x, capture_intermediates=True, mutable=["intermediates"])[1]
    )
    state = capture(variables, x)
    for r in top:
        (out,) = state["intermediates"][r["name"]]["__call__"]
        assert out.shape == r["output_shape"], r
    conv = top[0]
    assert conv["params"] == arith.conv_params((3, 3), 3, 8)
    assert conv["flops"] == 2 * arith.conv_macs((12, 12), (3, 3), 3, 8, batch=2)
    assert [r["receptive_field"] for r in top] == [
        "3x3",
        "3x3",
        "4x4",
        "16x16",
        "16x16",
        "all",
        "all",
    ]
    assert total["flops"] == sum(r["flops"] for r in rows[:-1] if r["depth"] == 2) + sum(
        r["flops"] for r in top if r["type"] != "ResidualBlock2D"
    )
    assert "total" in lines[0] and "receptive field" in lines[0]


def test_summary_of_a_model_too_large_to_allocate():
    rows = arith.summary(
        L.Sequential([L.Flatten(), L.Dense(100_000)]), (1, 1000, 100), print_fn=None
    )
    assert rows[-1]["params"] == 10_000_100_000
    assert rows[-1]["flops"] == 2 * 10**10


def test_summary_of_an_empty_batch_counts_params_and_no_flops():
    model = L.Sequential(
        [
            L.Conv2D(4, 3),
            nn.Conv(5, (2, 2), padding="VALID"),
            L.ConvTranspose2D(3, 2, stride=2),
            L.Flatten(),
            L.Dense(7),
        ]
    )
    empty = arith.summary(model, (0, 8, 8, 2), print_fn=None)
    full = arith.summary(model, (2, 8, 8, 2), print_fn=None)
    variables = jax.eval_shape(model.init, jax.random.key(0), jnp.ones((2, 8, 8, 2)))
    assert empty[-1]["params"] == arith.count_params(variables["params"])
    assert [r["params"] for r in empty] == [r["params"] for r in full]
    assert all(r["flops"] > 0 for r in full if r["type"] not in ("Flatten",))
    assert [r["flops"] for r in empty] == [0] * len(empty)
    assert [r["output_shape"][0] for r in empty[:-1]] == [0] * (len(empty) - 1)


def test_receptive_errors():
    with pytest.raises(ValueError, match=r"receptive_fields: stride must be >= 1, got 0"):
        arith.receptive_fields([Window(3, 0)])
    with pytest.raises(
        TypeError, match=r"receptive_fields: windows must contain Window, got tuple"
    ):
        arith.receptive_fields([(3, 1)])
    with pytest.raises(TypeError, match=r"summary: input_shape must be a tuple of ints"):
        arith.summary(L.Flatten(), [1, 2.5])


@pytest.mark.parametrize(
    ("window", "exc", "match"),
    [
        (Window(2.0), TypeError, r"kernel must be an int or 2 ints, got float 2.0"),
        (Window(True), TypeError, r"kernel must be an int or 2 ints, got bool True"),
        (Window(3, None), TypeError, r"stride must be an int or 2 ints, got NoneType None"),
        (Window(3, dilation=(1, 2.0)), TypeError, r"dilation must contain ints, got float 2.0"),
        (Window((3, 3, 3)), ValueError, r"kernel must be an int or 2 ints, got \(3, 3, 3\)"),
        (
            Window(3, padding=1.0),
            TypeError,
            r"padding must be an int, or one int or \(low, high\) pair per axis, got float 1.0",
        ),
        (Window(3, padding=None), TypeError, r"padding must be an int, .* got NoneType None"),
        (
            Window(3, padding=(1.0, 2)),
            TypeError,
            r"padding must contain ints or \(low, high\) pairs, got float 1.0 in \(1.0, 2\)",
        ),
        (
            Window(3, padding=((1, 2.0), 0)),
            TypeError,
            r"padding must contain ints or \(low, high\) pairs, got tuple \(1, 2.0\)",
        ),
        (Window(3, padding=((1, -1), 0)), ValueError, r"padding must be non-negative"),
    ],
)
def test_receptive_argument_errors(window, exc, match):
    # a float, None or bool where ints are wanted: a TypeError naming the function, the
    # argument and what it got (not Python's "'float' object is not iterable")
    with pytest.raises(exc, match=r"receptive_fields: " + match):
        arith.receptive_fields([window], 2)
