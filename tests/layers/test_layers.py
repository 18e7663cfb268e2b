"""Layer values against jax.lax / NumPy, parameter counts against the closed forms, errors."""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax import lax

from jaxcnn import arith, config
from jaxcnn import layers as L
from jaxcnn.layers import init as I
from tests.layers.registry import random_variables

KEY = jax.random.key(0)


def test_conv2d_equals_lax_with_its_own_params():
    x = jax.random.normal(KEY, (2, 7, 6, 4))
    m = L.Conv2D(6, (3, 2), stride=(2, 1), padding=((1, 0), (0, 1)), dilation=(1, 2), groups=2)
    v = random_variables(m, x)
    k, b = v["params"]["kernel"], v["params"]["bias"]
    assert k.shape == (3, 2, 2, 6)  # HWIO with C_in // groups
    want = lax.conv_general_dilated(
        x,
        k,
        (2, 1),
        ((1, 0), (0, 1)),
        rhs_dilation=(1, 2),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=2,
    ) + b.reshape(1, 1, 1, 6)
    np.testing.assert_allclose(m.apply(v, x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "layer, shape",
    [
        (L.Conv2D(6, 3, padding=1), (2, 7, 6, 4)),
        (L.ConvTranspose2D(3, 4, stride=2, padding=1), (2, 5, 4, 4)),
        (L.Conv1D(3, 5, padding="SAME"), (2, 9, 4)),
    ],
)
def test_every_forced_lowering_gives_a_layer_the_same_output(layer, shape):
    x = jax.random.normal(KEY, shape)
    v = random_variables(layer, x)
    with config.lowering("lax"):
        want = layer.apply(v, x)
    lowerings = ["auto", "patches", "lanes"] + (["rows"] if len(shape) == 4 else [])
    for low in lowerings:
        with config.lowering(low):
            np.testing.assert_allclose(layer.apply(v, x), want, rtol=1e-5, atol=1e-5)


def test_dense_and_flatten_against_numpy():
    x = np.random.default_rng(0).standard_normal((3, 2, 2, 4)).astype(np.float32)
    m = L.Sequential([L.Flatten(), L.Dense(5)])
    v = random_variables(m, jnp.asarray(x))
    p = v["params"]["layers_1"]
    want = x.reshape(3, 16) @ np.asarray(p["kernel"]) + np.asarray(p["bias"])
    np.testing.assert_allclose(m.apply(v, x), want, rtol=1e-5, atol=1e-5)


def _conv_configs():
    return st.tuples(
        st.integers(1, 3),  # kernel
        st.integers(1, 3),  # stride
        st.integers(1, 2),  # dilation
        st.sampled_from(["VALID", "SAME", "FULL", 0, 1, 2, (2, 0)]),
        st.sampled_from([1, 2]),  # groups
        st.integers(0, 6),  # extra input size beyond the dilated window
    )


@given(_conv_configs(), st.sampled_from([1, 2]))
def test_conv_shapes_and_params_match_arith(cfg, ndim):
    k, s, d, pad, g, extra = cfg
    size = (k - 1) * d + 1 + extra
    shape = (2,) + (size,) * ndim + (4,)
    padding = pad if not isinstance(pad, tuple) else [pad] * ndim
    conv = L.Conv1D if ndim == 1 else L.Conv2D
    layer = conv(6, k, stride=s, padding=padding, dilation=d, groups=g)
    out, variables = jax.eval_shape(lambda x: layer.init_with_output(KEY, x), jnp.zeros(shape))
    want = arith.conv_output_shape((size,) * ndim, k, s, padding, d)
    assert out.shape == (2, *want, 6)
    assert arith.count_params(variables) == arith.conv_params((k,) * ndim, 4, 6, groups=g)


@given(
    st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2), st.integers(1, 5)
)
def test_conv_transpose_and_pool_shapes_match_arith(k, s, p, d, size):
    x = jnp.zeros((1, size, 2))
    p = min(p, (k - 1) * d // 2)  # keep the output positive
    op = (size + 2 * p - d * (k - 1) - 1) % s if size + 2 * p >= d * (k - 1) + 1 else 0
    layer = L.ConvTranspose1D(
        3, k, stride=s, padding=p, output_padding=min(op, max(s, d) - 1), dilation=d
    )
    out, variables = jax.eval_shape(lambda x: layer.init_with_output(KEY, x), x)
    want = arith.conv_transpose_output_size(size, k, s, p, min(op, max(s, d) - 1), d)
    assert out.shape == (1, want, 3)
    assert arith.count_params(variables) == arith.conv_transpose_params(k, 2, 3)
    pad = min(p, k // 2)
    if k <= size + 2 * pad:
        pooled = jax.eval_shape(L.MaxPool(k, s, pad).apply, {}, x)
        assert pooled.shape == (1, arith.pool_output_size(size, k, s, pad), 2)


def test_real_shapes_match_arith_when_executed():
    x = jnp.ones((1, 32, 32, 3))
    y, v = L.Conv2D(6, 5).init_with_output(KEY, x)  # the notes' 32x32x3 -> 28x28x6
    assert y.shape == (1, arith.conv_output_size(32, 5), 28, 6)
    assert arith.count_params(v) == 5 * 5 * 3 * 6 + 6 == arith.conv_params((5, 5), 3, 6)
    y = L.AvgPool(3, 2, padding=1).apply({}, x)
    side = arith.pool_output_size(32, 3, 2, 1)
    assert side == 16 and y.shape == (1, side, side, 3)


def test_use_bias_false_has_no_bias_and_init_defaults():
    x = jnp.ones((1, 8, 8, 16))
    v = jax.eval_shape(L.Conv2D(32, 3, use_bias=False).init, KEY, x)
    assert set(v["params"]) == {"kernel"}
    v = jax.jit(L.Conv2D(64, 3).init)(KEY, jnp.ones((1, 8, 8, 64)))
    k = np.asarray(v["params"]["kernel"])
    fan_in = 3 * 3 * 64
    # lecun_normal: variance 1 / fan_in (truncated normal, rescaled to keep that variance)
    assert abs(k.var() * fan_in - 1.0) < 0.1
    assert not np.any(np.asarray(v["params"]["bias"]))
    t = L.Conv2D(64, 3, kernel_init=I.torch_kernel_init(), bias_init=I.torch_bias_init(fan_in))
    v = jax.jit(t.init)(KEY, jnp.ones((1, 8, 8, 64)))
    k, b = np.asarray(v["params"]["kernel"]), np.asarray(v["params"]["bias"])
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(k).max() <= bound and np.abs(b).max() <= bound
    assert abs(k.var() * 3 * fan_in - 1.0) < 0.1  # U(-b, b) has variance b^2 / 3


def test_dropout_train_and_eval():
    x = jnp.ones((4, 1000))
    m = L.Dropout(0.25)
    assert m.apply({}, x) is x or np.array_equal(m.apply({}, x), x)
    y = np.asarray(m.apply({}, x, train=True, rngs={"dropout": KEY}))
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.03
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)


def test_sequential_passes_train_only_where_accepted():
    seen = []

    def with_train(x, train=False):
        seen.append(train)
        return x

    m = L.Sequential([nn.relu, with_train, L.Dropout(0.5), L.Dense(2)])
    x = jnp.ones((3, 4))
    v = m.init(KEY, x)
    m.apply(v, x, train=True, rngs={"dropout": KEY})
    assert seen == [False, True]
    assert set(v["params"]) == {"layers_3"}


@pytest.mark.parametrize(
    ("module", "shape", "exc", "match"),
    [
        (
            L.Conv2D(4, 3),
            (8, 3),
            ValueError,
            r"Conv2D: x must have rank 4 \(N, H, W, C\), got shape \(8, 3\)",
        ),
        (L.Conv1D(4, 3), (2, 8, 8, 3), ValueError, r"Conv1D: x must have rank 3 \(N, W, C\)"),
        (
            L.Conv2D(4, 3, groups=2),
            (1, 5, 5, 3),
            ValueError,
            r"Conv2D: groups must divide the input channels 3, got 2",
        ),
        (
            L.Conv2D(3, 3, groups=2),
            (1, 5, 5, 4),
            ValueError,
            r"Conv2D: groups must divide features 3, got 2",
        ),
        (
            L.Conv2D(0, 3),
            (1, 5, 5, 3),
            ValueError,
            r"Conv2D: features must be a positive int, got 0",
        ),
        (
            L.Conv2D(2.0, 3),
            (1, 5, 5, 3),
            TypeError,
            r"Conv2D: features must be a positive int, got float",
        ),
        (
            L.Conv2D(4, 2.0),
            (1, 5, 5, 3),
            TypeError,
            r"Conv2D: kernel_size must contain ints|kernel_size must be an int",
        ),
        (
            L.Conv2D(4, 3, stride=0),
            (1, 5, 5, 3),
            ValueError,
            r"conv2d: stride must be positive, got \(0, 0\)",
        ),
        (
            L.Conv2D(4, 7),
            (1, 5, 5, 3),
            ValueError,
            r"conv2d: kernel window must fit in the padded input",
        ),
        (
            L.Conv2D(4, 3, padding="SAMEISH"),
            (1, 5, 5, 3),
            ValueError,
            r"conv2d: padding must be one of",
        ),
        (L.ConvTranspose2D(4, 3), (5, 5, 3), ValueError, r"ConvTranspose2D: x must have rank 4"),
        (
            L.MaxPool((2, 2)),
            (1, 8, 3),
            ValueError,
            r"MaxPool: x must have rank 4 for a 2-axis window",
        ),
        (L.AvgPool(2), (1, 3), ValueError, r"AvgPool: x must have rank 3 \(N, W, C\) or 4"),
        (
            L.Flatten(),
            (5,),
            ValueError,
            r"Flatten: x must have rank >= 2 \(N, ...\), got shape \(5,\)",
        ),
        (L.Dense(-1), (2, 3), ValueError, r"Dense: features must be a positive int, got -1"),
        (L.Dropout(1.0), (2, 3), ValueError, r"dropout: rate must be in \[0, 1\), got 1.0"),
        (
            L.BatchNorm(momentum=1.5),
            (2, 3),
            ValueError,
            r"BatchNorm: momentum must be a real number in \[0, 1\]",
        ),
        (L.BatchNorm(), (3,), ValueError, r"BatchNorm: x must have rank >= 2 \(N, ..., C\)"),
        (
            L.ResidualBlock2D(4, kernel_size=2),
            (1, 5, 5, 4),
            ValueError,
            r"ResidualBlock2D: kernel_size must be odd",
        ),
        (
            L.ResidualBlock1D(4),
            (1, 5, 5, 4),
            ValueError,
            r"ResidualBlock1D: x must have rank 3 \(N, W, C\)",
        ),
        (L.Sequential([]), (1, 2), ValueError, r"Sequential: layers must be a non-empty sequence"),
        (
            L.Sequential([3]),
            (1, 2),
            TypeError,
            r"Sequential: layers must contain modules or callables, got int",
        ),
    ],
)
def test_errors_name_argument(module, shape, exc, match):
    with pytest.raises(exc, match=match):
        jax.eval_shape(
            lambda x: (
                module.init({"params": KEY, "dropout": KEY}, x, train=True)
                if "train" in module.__call__.__code__.co_varnames
                else module.init(KEY, x)
            ),
            jnp.zeros(shape),
        )
