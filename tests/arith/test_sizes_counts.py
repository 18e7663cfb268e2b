"""Closed-form sizes and counts against the notes, jax.lax shapes and naive loop counts."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax import lax

from jaxcnn import arith
from jaxcnn import layers as L


def test_notes_worked_examples():
    assert arith.conv_output_size(32, 5) == 28  # 32x32x3 with 5x5x3 -> 28x28
    assert arith.conv_output_size(56, 3, padding="SAME") == 56
    assert arith.conv_output_size(12, 3, padding=1) == 12
    assert arith.pool_output_size(12, 3) == 4  # [12x12] pooled 3x3 -> [4x4]
    assert arith.conv_params((5, 5), 3, 6) == 456
    assert arith.conv_params((5,), 100, 100) == 50_100
    assert arith.dense_params(100_000, 100_000) == 10_000_100_000
    assert arith.dense_params(21 * 40, 128, bias=False) == 107_520


@given(
    size=st.integers(1, 12),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    d=st.integers(1, 3),
    lo=st.integers(0, 3),
    hi=st.integers(0, 3),
    mode=st.sampled_from(["pair", "VALID", "SAME", "FULL", "CAUSAL"]),
)
def test_conv_output_size_matches_lax(size, k, s, d, lo, hi, mode):
    padding = (lo, hi) if mode == "pair" else mode
    # lax's own shape rule (no jaxcnn code involved): CAUSAL / FULL written as explicit pairs
    span = d * (k - 1)
    lax_pad = {"pair": [(lo, hi)], "CAUSAL": [(span, 0)], "FULL": [(span, span)]}.get(mode, mode)
    if size + sum(arith.sizes.resolve_padding(padding, size, k, s, d, "t")) < span + 1:
        with pytest.raises(ValueError, match="conv_output_size: kernel must fit"):
            arith.conv_output_size(size, k, s, padding, d)
        return
    x = jax.ShapeDtypeStruct((1, size, 1), jnp.float32)
    w = jax.ShapeDtypeStruct((k, 1, 1), jnp.float32)
    y = jax.eval_shape(
        lambda x, w: lax.conv_general_dilated(
            x, w, (s,), lax_pad, rhs_dilation=(d,), dimension_numbers=("NWC", "WIO", "NWC")
        ),
        x,
        w,
    )
    assert arith.conv_output_size(size, k, s, padding, d) == y.shape[1]


def test_conv_transpose_size_inverts_conv():
    for size, k, s, p, d in itertools.product(range(1, 9), (1, 2, 3), (1, 2, 3), (0, 1), (1, 2)):
        if size + 2 * p < d * (k - 1) + 1:
            continue
        out = arith.conv_output_size(size, k, s, p, d)
        op = (size + 2 * p - d * (k - 1) - 1) % s
        if op >= max(s, d):
            continue
        assert arith.conv_transpose_output_size(out, k, s, p, op, d) == size


def _naive_conv_macs(x_shape, k, c_out, groups, stride):
    """Count the multiplies of a literal loop over a 2D VALID conv."""
    n, h, w, c_in = x_shape
    count = 0
    for _n, _i, _j, _o in itertools.product(
        range(n), range(0, h - k + 1, stride), range(0, w - k + 1, stride), range(c_out)
    ):
        for _di, _dj, _c in itertools.product(range(k), range(k), range(c_in // groups)):
            count += 1
    return count


def test_macs_against_a_counting_loop_and_dense():
    out = arith.conv_output_shape((7, 6), 3, 2)
    assert arith.conv_macs(out, (3, 3), 4, 6, groups=2, batch=2) == _naive_conv_macs(
        (2, 7, 6, 4), 3, 6, 2, 2
    )
    assert arith.dense_macs(840, 128) == 840 * 128
    assert arith.flops(10) == 20
    # transposed conv: each input element meets every weight of its group once
    assert arith.conv_transpose_macs((3,), 5, 4, 6, groups=2) == 3 * 4 * 5 * 3


def test_macs_take_an_int_kernel_as_square_and_reject_a_rank_mismatch():
    # Conv2d(kernel_size=3) is 3x3: an int window spans every axis of the output it is
    # counted over (it used to count a 1-D window of 3 for a 2-D output, a third of the MACs).
    out = arith.conv_output_shape((7, 6), 3)
    assert arith.conv_macs(out, 3, 4, 6) == _naive_conv_macs((1, 7, 6, 4), 3, 6, 1, 1)
    assert arith.conv_macs(out, 3, 4, 6) == arith.conv_macs(out, (3, 3), 4, 6)
    assert arith.conv_transpose_macs((5, 5), 3, 4, 6) == 5 * 5 * 4 * 9 * 6
    with pytest.raises(ValueError, match=r"conv_macs: kernel_size must be an int or 3 ints, "):
        arith.conv_macs((5, 5, 5), (3, 3), 4, 6)
    with pytest.raises(
        ValueError, match=r"conv_transpose_macs: kernel_size must be an int or 1 int, "
    ):
        arith.conv_transpose_macs((5,), (3, 3), 4, 6)


def test_macs_of_an_empty_batch_are_zero():
    # as fvcore / PyTorch counts: no examples, no multiply-accumulates
    assert arith.conv_macs((5, 5), (3, 3), 4, 6, batch=0) == 0
    assert arith.conv_transpose_macs((3,), 5, 4, 6, groups=2, batch=0) == 0
    assert arith.dense_macs(840, 128, positions=0) == 0
    with pytest.raises(ValueError, match=r"conv_macs: batch must be non-negative, got -1"):
        arith.conv_macs((5, 5), 3, 4, 6, batch=-1)
    with pytest.raises(
        ValueError, match=r"conv_transpose_macs: batch must be non-negative, got -2"
    ):
        arith.conv_transpose_macs((5,), 3, 4, 6, batch=-2)
    with pytest.raises(ValueError, match=r"dense_macs: positions must be non-negative, got -1"):
        arith.dense_macs(3, 4, positions=-1)
    with pytest.raises(TypeError, match=r"conv_macs: batch must be an int, got float 1.0"):
        arith.conv_macs((5, 5), 3, 4, 6, batch=1.0)
    with pytest.raises(TypeError, match=r"dense_macs: positions must be an int, got bool"):
        arith.dense_macs(3, 4, positions=True)


def test_count_params_on_real_and_abstract_modules():
    m = L.Sequential([L.Conv2D(4, 3), L.BatchNorm(), L.Flatten(), L.Dense(3)])
    x = jnp.ones((1, 5, 5, 2))
    real = jax.jit(m.init)(jax.random.key(0), x)
    abstract = jax.eval_shape(m.init, jax.random.key(0), x)
    want = arith.conv_params((3, 3), 2, 4) + 2 * 4 + arith.dense_params(3 * 3 * 4, 3)
    assert arith.count_params(real["params"]) == want == arith.count_params(abstract["params"])
    assert want == sum(np.size(a) for a in jax.tree_util.tree_leaves(real["params"]))


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: arith.conv_output_size(4, 5),
            ValueError,
            r"conv_output_size: kernel must fit in the padded input, got window 5 \(kernel 5, "
            r"dilation 1\) > padded size 4 \(size 4, padding \(0, 0\)\)",
        ),
        (
            lambda: arith.conv_output_size(4, 3, stride=0),
            ValueError,
            r"stride must be positive, got 0",
        ),
        (
            lambda: arith.conv_output_size(4, 3, dilation=-1),
            ValueError,
            r"dilation must be positive",
        ),
        (lambda: arith.conv_output_size(4.0, 3), TypeError, r"size must be an int, got float 4.0"),
        (
            lambda: arith.conv_output_size(4, 3, padding="HALF"),
            ValueError,
            r"padding must be one of",
        ),
        (
            lambda: arith.conv_output_size(4, 3, padding=-1),
            ValueError,
            r"padding must be non-negative",
        ),
        (
            lambda: arith.conv_output_size(4, 3, padding=1.5),
            TypeError,
            r"padding must be a string, an int",
        ),
        (lambda: arith.pool_output_size(8, 2, padding=2), ValueError, r"at most half the window"),
        (lambda: arith.pool_output_size(8, 2, padding="FULL"), ValueError, r"'VALID', 'SAME'"),
        (
            lambda: arith.conv_transpose_output_size(3, 3, 2, output_padding=2),
            ValueError,
            r"output_padding must be smaller than max\(stride, dilation\) = 2, got 2",
        ),
        (
            lambda: arith.conv_transpose_output_size(1, 1, padding=1),
            ValueError,
            r"output size must be positive",
        ),
        (
            lambda: arith.conv_params((3, 3), 3, 4, groups=2),
            ValueError,
            r"groups must divide c_in 3",
        ),
        (lambda: arith.conv_params((3, 0), 3, 4), ValueError, r"kernel_size must be positive"),
        (
            lambda: arith.conv_macs((0, 3), 3, 1, 1),
            ValueError,
            r"conv_macs: out_spatial must be positive, got \(0, 3\)",
        ),
        (
            lambda: arith.conv_macs((4, 2.0), 3, 1, 1),
            TypeError,
            r"conv_macs: out_spatial must contain ints, got float 2.0",
        ),
        (
            lambda: arith.conv_macs((), 3, 1, 1),
            ValueError,
            r"conv_macs: out_spatial must be an int or a non-empty sequence of ints, got \(\)",
        ),
        (
            lambda: arith.conv_transpose_macs((0,), 3, 1, 1),
            ValueError,
            r"conv_transpose_macs: in_spatial must be positive, got \(0,\)",
        ),
        (
            lambda: arith.conv_macs((4, 4), (3, 0), 1, 1),
            ValueError,
            r"conv_macs: kernel_size must be positive, got \(3, 0\)",
        ),
        (
            lambda: arith.conv_transpose_macs((4,), 3, 2.0, 1),
            TypeError,
            r"conv_transpose_macs: c_in must be an int, got float 2.0",
        ),
        (
            lambda: arith.dense_params(3, 2.0),
            TypeError,
            r"dense_params: d_out must be an int, got float",
        ),
        (
            lambda: arith.count_params({"a": 3}),
            TypeError,
            r"count_params: tree leaves must be arrays",
        ),
        (
            lambda: arith.conv_output_shape((4, 4), (3, 3, 3)),
            ValueError,
            r"conv_output_shape: kernel must be an int or 2 ints, got \(3, 3, 3\)",
        ),
    ]
    + [
        # a float, None or bool where an int or ints are wanted: a TypeError naming the
        # function, the argument and what it got (not Python's "'float' object is not iterable")
        (call, TypeError, match)
        for call, match in [
            (
                lambda: arith.conv_params(2.0, 1, 1),
                r"conv_params: kernel_size must be an int or a sequence of ints, got float 2.0",
            ),
            (
                lambda: arith.conv_params(True, 1, 1),
                r"conv_params: kernel_size must be an int or a sequence of ints, got bool True",
            ),
            (
                lambda: arith.conv_macs(None, 3, 1, 1),
                r"conv_macs: out_spatial must be an int or a sequence of ints, got NoneType None",
            ),
            (
                lambda: arith.conv_transpose_macs(4.0, 3, 1, 1),
                r"conv_transpose_macs: in_spatial must be an int or a sequence of ints, got float",
            ),
            (
                lambda: arith.conv_output_shape((4, 4), 2.0),
                r"conv_output_shape: kernel must be an int or 2 ints, got float 2.0",
            ),
            (
                lambda: arith.conv_output_shape((4, 4), 3, stride=None),
                r"conv_output_shape: stride must be an int or 2 ints, got NoneType None",
            ),
            (
                lambda: arith.conv_output_shape((4, 4), 3, dilation=(1, 1.0)),
                r"conv_output_shape: dilation must contain ints, got float 1.0 in \(1, 1.0\)",
            ),
            (
                lambda: arith.conv_output_shape((4, 4), True),
                r"conv_output_shape: kernel must be an int or 2 ints, got bool True",
            ),
            (
                lambda: arith.conv_output_shape((4, 4), 3, padding=1.5),
                r"conv_output_shape: padding must be a string, an int, or one int or \(low, "
                r"high\) pair per axis, got float 1.5",
            ),
            (
                lambda: arith.conv_output_shape((4, 4), 3, padding=None),
                r"conv_output_shape: padding must be a string, .* got NoneType None",
            ),
            (
                lambda: arith.conv_output_shape(None, 3),
                r"conv_output_shape: sizes must be a sequence of ints, got NoneType None",
            ),
            (
                lambda: arith.conv_output_shape(8.0, 3),
                r"conv_output_shape: sizes must be a sequence of ints, got float 8.0",
            ),
        ]
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
