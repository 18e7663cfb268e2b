"""BatchNorm train / eval against NumPy; residual blocks' identity and projection shortcuts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn import arith
from jaxcnn import layers as L
from jaxcnn.functional import layer_norm

KEY = jax.random.key(0)


def test_batch_norm_train_and_eval_against_numpy():
    rng = np.random.default_rng(0)
    x = (3.0 + 2.0 * rng.standard_normal((4, 3, 5, 2))).astype(np.float32)
    m = L.BatchNorm(momentum=0.8, epsilon=1e-3)
    v = m.init(KEY, x)
    assert np.array_equal(v["batch_stats"]["mean"], np.zeros(2))  # init does not move stats
    scale, bias = np.array([1.5, -0.5], np.float32), np.array([0.1, 0.2], np.float32)
    v = {"params": {"scale": scale, "bias": bias}, "batch_stats": v["batch_stats"]}
    y, upd = m.apply(v, x, train=True, mutable=["batch_stats"])
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))  # biased, over N, H, W
    np.testing.assert_allclose(
        y, (x - mean) / np.sqrt(var + 1e-3) * scale + bias, rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(upd["batch_stats"]["mean"], 0.2 * mean, rtol=1e-5)
    np.testing.assert_allclose(upd["batch_stats"]["var"], 0.8 + 0.2 * var, rtol=1e-5)
    # eval: the running statistics, not the batch's
    v2 = {"params": v["params"], "batch_stats": upd["batch_stats"]}
    rm, rv = 0.2 * mean, 0.8 + 0.2 * var
    want = (x - rm) / np.sqrt(rv + 1e-3) * scale + bias
    np.testing.assert_allclose(m.apply(v2, x), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m.apply(v2, x[:1]), want[:1], rtol=1e-4, atol=1e-4)


def test_layer_norm_against_numpy():
    x = np.random.default_rng(1).standard_normal((2, 3, 6)).astype(np.float32)
    m = L.LayerNorm()
    y = m.apply(m.init(KEY, x), x)
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)


def test_layer_norm_errors_as_functional_layer_norm():
    # a non-array is a TypeError, as its docstring and functional.layer_norm say
    for x in ([[1.0, 2.0]], None):
        with pytest.raises(TypeError, match=r"LayerNorm: x must be an array \(\.\.\., D\), got"):
            L.LayerNorm().init(KEY, x)
        with pytest.raises(TypeError, match=r"layer_norm: x must be an array"):
            layer_norm(x)
    with pytest.raises(
        ValueError, match=r"LayerNorm: x must have rank >= 1 \(\.\.\., D\), got shape \(\)"
    ):
        L.LayerNorm().init(KEY, jnp.float32(1.0))
    with pytest.raises(TypeError, match=r"layer_norm: x must have a floating dtype, got int32"):
        L.LayerNorm().init(KEY, jnp.zeros((2, 3), jnp.int32))


def _zero_branch(params):
    """Zero the last conv of the residual branch (and its norm's scale / bias)."""
    p = jax.tree_util.tree_map(lambda a: a, params)
    p["conv2"] = jax.tree_util.tree_map(jnp.zeros_like, p["conv2"])
    if "norm2" in p:
        p["norm2"] = jax.tree_util.tree_map(jnp.zeros_like, p["norm2"])
    return p


def test_residual_is_relu_identity_when_branch_is_zero():
    x = jax.random.normal(KEY, (2, 6, 6, 4))
    for norm in (True, False):
        m = L.ResidualBlock2D(4, norm=norm)
        v = jax.jit(m.init)(KEY, x)
        assert "proj" not in v["params"]  # identity shortcut: same stride and channels
        v = {**v, "params": _zero_branch(dict(v["params"]))}
        y = jax.jit(m.apply)(v, x)
        np.testing.assert_allclose(y, np.maximum(np.asarray(x), 0), atol=1e-6)
    # zero_init_residual starts as the identity without editing anything
    m = L.ResidualBlock1D(3, zero_init_residual=True)
    x1 = jax.random.normal(KEY, (2, 7, 3))
    np.testing.assert_allclose(
        m.apply(m.init(KEY, x1), x1), np.maximum(np.asarray(x1), 0), atol=1e-6
    )


def test_residual_projection_shapes_and_params():
    x = jnp.zeros((2, 7, 7, 3))
    out, v = jax.eval_shape(lambda x: L.ResidualBlock2D(8, stride=2).init_with_output(KEY, x), x)
    assert out.shape == (2, 4, 4, 8)  # (7 - 1) // 2 + 1
    want = (
        arith.conv_params((3, 3), 3, 8, bias=False)
        + arith.conv_params((3, 3), 8, 8, bias=False)
        + arith.conv_params((1, 1), 3, 8, bias=False)
        + 3 * 2 * 8  # three batch norms: scale and bias
    )
    assert arith.count_params(v["params"]) == want
    out, v = jax.eval_shape(
        lambda x: L.ResidualBlock1D(5, stride=3, norm=False).init_with_output(KEY, x),
        jnp.zeros((1, 10, 2)),
    )
    assert out.shape == (1, 4, 5)
    want = arith.conv_params(3, 2, 5) + arith.conv_params(3, 5, 5) + arith.conv_params(1, 2, 5)
    assert arith.count_params(v["params"]) == want
