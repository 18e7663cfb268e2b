"""dense, dropout, batch_norm / batch_norm_train / layer_norm against NumPy formulas,
statistical checks for dropout, gradients, jit / vmap, and every error message."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxcnn.functional import (
    batch_norm,
    batch_norm_train,
    dense,
    dropout,
    layer_norm,
)

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# --- dense ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lead", [(5,), (2, 3), (2, 3, 4)])
def test_dense_matches_numpy(lead):
    x, k, b = _rand(0, *lead, 6), _rand(1, 6, 4), _rand(2, 4)
    want = np.einsum("...i,io->...o", x.astype(np.float64), k.astype(np.float64))
    np.testing.assert_allclose(np.asarray(dense(x, k)), want, **TOL)
    np.testing.assert_allclose(np.asarray(dense(x, k, b)), want + b, **TOL)
    assert dense(x, k, b).shape == (*lead, 4)


def test_dense_grads_jit_vmap():
    x, k, b = _rand(3, 3, 5), _rand(4, 5, 2), _rand(5, 2)
    with jax.enable_x64(True):  # float64 finite differences: default tolerances can hold
        args = tuple(np.float64(a) for a in (x, k, b))
        check_grads(dense, args, order=2, modes=["fwd", "rev"])
    np.testing.assert_allclose(np.asarray(jax.jit(dense)(x, k, b)), np.asarray(dense(x, k, b)))
    ks = _rand(6, 4, 5, 2)  # vmap over a stack of kernels
    loop = np.stack([np.asarray(dense(x, ks[i], b)) for i in range(4)])
    got = jax.vmap(dense, in_axes=(None, 0, None))(x, ks, b)
    np.testing.assert_allclose(np.asarray(got), loop, **TOL)


def test_dense_promotes_mixed_dtypes_as_conv():
    x, k, b = _rand(7, 2, 3), _rand(8, 3, 4), _rand(9, 4)
    want = np.einsum("...i,io->...o", x.astype(np.float64), k.astype(np.float64))
    # float16 x bfloat16: neither holds the other, so JAX's promotion gives float32 (as conv2d)
    y = dense(jnp.asarray(x, jnp.float16), jnp.asarray(k, jnp.bfloat16))
    assert y.dtype == jnp.float32 == jnp.result_type(jnp.float16, jnp.bfloat16)
    np.testing.assert_allclose(np.asarray(y), want, rtol=2e-2, atol=2e-2)
    assert dense(jnp.asarray(x, jnp.bfloat16), k).dtype == jnp.float32
    # same dtypes are kept, bias included
    for dt in (jnp.float16, jnp.bfloat16, jnp.float32):
        args = [jnp.asarray(a, dt) for a in (x, k, b)]
        assert dense(*args[:2]).dtype == dt
        assert dense(*args).dtype == dt
        assert jax.jit(dense)(*args).dtype == dt


def test_dense_errors():
    x, k = np.zeros((2, 3), np.float32), np.zeros((3, 4), np.float32)
    with pytest.raises(
        ValueError, match=r"dense: x must have last axis D_in = kernel.shape\[0\] = 3"
    ):
        dense(np.zeros((2, 5), np.float32), k)
    with pytest.raises(ValueError, match=r"dense: kernel must have rank 2 \(D_in, D_out\), got"):
        dense(x, np.zeros((3, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"dense: x must have rank >= 1 \(\.\.\., D_in\)"):
        dense(np.float32(1.0) * np.ones((), np.float32), k)
    with pytest.raises(ValueError, match=r"dense: bias must have shape \(4,\), got \(3,\)"):
        dense(x, k, np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="dense: x must have a floating dtype, got int32"):
        dense(np.zeros((2, 3), np.int32), k)
    with pytest.raises(TypeError, match="dense: x must be an array"):
        dense([[1.0, 2.0, 3.0]], k)


# --- dropout ----------------------------------------------------------------------------------


def test_dropout_rate_means_dropping_and_preserves_the_mean():
    # 10^6 elements: the kept fraction has std sqrt(0.3 * 0.7 / 1e6) ~ 5e-4, so 0.01 is ~20
    # sigma; the key is fixed as well, so this cannot flake.
    x = jnp.full((1000, 1000), 2.0, jnp.float32)
    for rate in (0.1, 0.3, 0.75):
        y = np.asarray(dropout(jax.random.key(0), x, rate))
        dropped = y == 0
        assert abs(dropped.mean() - rate) < 0.01
        np.testing.assert_allclose(y[~dropped], 2.0 / (1.0 - rate), rtol=1e-6)
        assert abs(y.mean() - 2.0) < 0.05


def test_dropout_is_a_function_of_the_key():
    x = _rand(7, 64, 32)
    a = np.asarray(dropout(jax.random.key(1), x, 0.5))
    np.testing.assert_array_equal(np.asarray(dropout(jax.random.key(1), x, 0.5)), a)
    assert not np.array_equal(np.asarray(dropout(jax.random.key(2), x, 0.5)), a)
    raw = np.asarray(dropout(jax.random.PRNGKey(1), x, 0.5))  # raw uint32 keys work too
    np.testing.assert_array_equal(raw, a)
    jitted = jax.jit(dropout, static_argnums=(2, 3))(jax.random.key(1), x, 0.5, False)
    np.testing.assert_array_equal(np.asarray(jitted), a)


def test_dropout_identity_cases_and_gradient():
    x = _rand(8, 4, 5)
    assert dropout(None, x, 0.5, deterministic=True) is x
    assert dropout(jax.random.key(0), x, 0.0) is x
    assert dropout(None, x, 0) is x
    key = jax.random.key(3)
    g = np.asarray(jax.grad(lambda v: jnp.sum(dropout(key, v, 0.25)))(jnp.asarray(x)))
    kept = np.asarray(dropout(key, np.ones_like(x), 0.25)) != 0
    np.testing.assert_allclose(g, np.where(kept, 1 / 0.75, 0.0), rtol=1e-6)


def test_dropout_vmap_over_keys_equals_loop():
    x = _rand(9, 6, 7)
    keys = jax.random.split(jax.random.key(4), 3)
    got = jax.vmap(lambda k: dropout(k, x, 0.4))(keys)
    loop = np.stack([np.asarray(dropout(keys[i], x, 0.4)) for i in range(3)])
    np.testing.assert_array_equal(np.asarray(got), loop)


def test_dropout_errors():
    x, key = np.ones((3, 4), np.float32), jax.random.key(0)
    for rate in (1.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"dropout: rate must be in \[0, 1\), got"):
            dropout(key, x, rate)
    with pytest.raises(
        TypeError, match=r"dropout: rate must be a real number in \[0, 1\), got str"
    ):
        dropout(key, x, "0.5")
    with pytest.raises(TypeError, match="dropout: rate must be a real number in .*, got bool"):
        dropout(key, x, True)
    with pytest.raises(TypeError, match="dropout: key must be a jax.random key, got NoneType"):
        dropout(None, x, 0.5)
    with pytest.raises(TypeError, match="dropout: key must be a jax.random key .*, got float32"):
        dropout(np.zeros(2, np.float32), x, 0.5)
    with pytest.raises(ValueError, match=r"dropout: key must be a single key \(shape \(\)\)"):
        dropout(jax.random.split(key, 2), x, 0.5)
    with pytest.raises(TypeError, match="dropout: x must have a floating dtype, got int32"):
        dropout(key, np.ones((3,), np.int32), 0.5)
    with pytest.raises(TypeError, match="dropout: deterministic must be a bool, got int"):
        dropout(key, x, 0.5, deterministic=1)


# --- normalisation ----------------------------------------------------------------------------


def _np_norm(x, axes, eps):
    x = x.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps), mean, var


@pytest.mark.parametrize("shape", [(8, 3), (4, 10, 3), (2, 5, 6, 3)])
def test_batch_norm_train_matches_numpy(shape):
    x = _rand(10, *shape) * 3 + 5  # mean far from 0: a one-pass variance would lose digits
    scale, bias = _rand(11, 3), _rand(12, 3)
    axes = tuple(range(len(shape) - 1))
    z, mean, var = _np_norm(x, axes, 1e-3)
    y, bm, bv = batch_norm_train(x, scale, bias, epsilon=1e-3)
    np.testing.assert_allclose(np.asarray(y), z * scale + bias, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(bm), mean.reshape(3), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(bv), var.reshape(3), rtol=1e-4)
    # Without scale and bias each channel comes out with mean 0 and variance ~1.
    y0 = np.asarray(batch_norm_train(x, None, None, epsilon=0.0)[0]).astype(np.float64)
    np.testing.assert_allclose(y0.mean(axis=axes), 0.0, atol=1e-5)
    np.testing.assert_allclose(y0.var(axis=axes), 1.0, rtol=1e-4)


def test_batch_norm_train_refuses_an_empty_batch():
    # Its statistics would be NaN and poison a layer's running averages for good.
    with pytest.raises(
        ValueError, match=r"batch_norm_train: x needs at least one value .*\(0, 2, 2, 3\)"
    ):
        batch_norm_train(jnp.ones((0, 2, 2, 3)), None, None)


def test_batch_norm_inference_uses_the_given_statistics():
    x = _rand(13, 2, 4, 4, 3)
    scale, bias, mean = _rand(14, 3), _rand(15, 3), _rand(16, 3)
    var = np.abs(_rand(17, 3)) + 0.5
    want = (x - mean) / np.sqrt(var + 1e-5) * scale + bias
    np.testing.assert_allclose(np.asarray(batch_norm(x, scale, bias, mean, var)), want, **TOL)
    # Normalising with the batch's own statistics equals the training-mode output.
    y, bm, bv = batch_norm_train(x, scale, bias)
    np.testing.assert_allclose(
        np.asarray(batch_norm(x, scale, bias, bm, bv)), np.asarray(y), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("axis", [-1, (-3, -2, -1), (1,)])
def test_layer_norm_matches_numpy(axis):
    x = _rand(18, 2, 3, 4, 5) * 2 - 1
    axes = tuple(a % 4 for a in ((axis,) if isinstance(axis, int) else axis))
    pshape = tuple(x.shape[a] for a in axes)
    scale, bias = _rand(19, *pshape), _rand(20, *pshape)
    bshape = tuple(x.shape[a] if a in axes else 1 for a in range(4))
    z = _np_norm(x, axes, 1e-6)[0]
    got = layer_norm(x, scale, bias, epsilon=1e-6, axis=axis)
    want = z * scale.reshape(bshape) + bias.reshape(bshape)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(layer_norm(x, epsilon=1e-6, axis=axis)), z, **TOL)


def test_norm_grads_jit_vmap():
    x, scale, bias = _rand(21, 6, 3), _rand(22, 3), _rand(23, 3)

    def train_y(v, s, b):
        return batch_norm_train(v, s, b, epsilon=1e-2)[0]

    with jax.enable_x64(True):  # float64 finite differences: default tolerances can hold
        args = tuple(np.float64(a) for a in (x, scale, bias))
        check_grads(train_y, args, order=2, modes=["fwd", "rev"])
        check_grads(
            lambda v, s, b: layer_norm(v, s, b, epsilon=1e-2), args, order=2, modes=["fwd", "rev"]
        )
    # y does not change when a channel is shifted, so dL/dx sums to 0 over the batch per channel.
    w = _rand(25, 6, 3)
    g = jax.grad(lambda v: jnp.sum(train_y(v, scale, bias) * w))(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(g).sum(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(jax.jit(train_y)(x, scale, bias)), train_y(x, scale, bias), **TOL
    )
    xs = _rand(24, 4, 6, 3)  # vmap: each of 4 batches gets its own statistics
    loop = np.stack([np.asarray(train_y(xs[i], scale, bias)) for i in range(4)])
    got = jax.vmap(train_y, in_axes=(0, None, None))(xs, scale, bias)
    np.testing.assert_allclose(np.asarray(got), loop, **TOL)


def test_norm_errors():
    x, c = np.zeros((2, 4, 3), np.float32), np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"batch_norm: x must have rank >= 2 \(N, \.\.\., C\)"):
        batch_norm(np.zeros(3, np.float32), c, c, c, c)
    with pytest.raises(
        ValueError, match=r"batch_norm: var must have shape \(3,\) \(one per channel\)"
    ):
        batch_norm(x, c, c, c, np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"batch_norm_train: scale must have shape \(3,\)"):
        batch_norm_train(x, np.ones((1, 3), np.float32), None)
    with pytest.raises(TypeError, match="batch_norm_train: x must have a floating dtype"):
        batch_norm_train(np.zeros((2, 3), np.int32), None, None)
    with pytest.raises(ValueError, match="batch_norm: epsilon must be non-negative, got -1"):
        batch_norm(x, c, c, c, c, epsilon=-1e-5)
    with pytest.raises(TypeError, match="batch_norm_train: epsilon must be a real number, got str"):
        batch_norm_train(x, None, None, epsilon="1e-5")
    with pytest.raises(ValueError, match=r"layer_norm: axis must be in \[-3, 3\) for x of rank 3"):
        layer_norm(x, axis=3)
    with pytest.raises(ValueError, match="layer_norm: axis must not repeat an axis"):
        layer_norm(x, axis=(2, -1))
    with pytest.raises(TypeError, match="layer_norm: axis must be an int or a tuple of ints"):
        layer_norm(x, axis=1.0)
    with pytest.raises(ValueError, match=r"layer_norm: bias must have shape \(4, 3\), got \(3,\)"):
        layer_norm(x, None, c, axis=(1, 2))
    with pytest.raises(TypeError, match="layer_norm: x must be an array"):
        layer_norm([1.0, 2.0])
    with pytest.raises(ValueError, match=r"layer_norm: x must have rank >= 1 .*got shape \(\)"):
        layer_norm(jnp.float32(1.0))
