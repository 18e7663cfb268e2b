"""Pooling against naive NumPy loops (tests/reference_pool.py), the notes' example, PyTorch,
exact max-pool gradients, check_grads, jit / vmap, and every error message."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from jax import lax
from jax.test_util import check_grads

from jaxcnn.functional import pool as P
from tests import reference_pool as ref

MAX = {1: P.max_pool1d, 2: P.max_pool2d}
AVG = {1: P.avg_pool1d, 2: P.avg_pool2d}
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _distinct(seed, *shape):
    """Values that are pairwise at least 1 apart: no ties, so the argmax is unique and a
    finite difference of size < 0.5 never changes it."""
    perm = np.random.default_rng(seed).permutation(int(np.prod(shape)))
    return perm.reshape(shape).astype(np.float32)


# --- the notes' worked example ---------------------------------------------------------------


def test_notes_max_pool_4x4_window_2_stride_2():
    fmap = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], np.float32)
    got = P.max_pool2d(fmap[None, :, :, None], 2)  # stride defaults to the window
    np.testing.assert_array_equal(np.asarray(got)[0, :, :, 0], [[6, 8], [3, 4]])
    # The notes' output-size formula (w - k + 2p) / s + 1 = (4 - 2) / 2 + 1 = 2.
    assert got.shape == (1, 2, 2, 1)


# --- random configurations against the naive loops ------------------------------------------


@st.composite
def pool_config(draw, nd):
    window = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    pads = tuple((draw(st.integers(0, k // 2)), draw(st.integers(0, k // 2))) for k in window)
    sizes = tuple(draw(st.integers(1, 7)) for _ in range(nd))
    assume(all(k <= n + lo + hi for k, n, (lo, hi) in zip(window, sizes, pads, strict=True)))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return (n, *sizes, c), window, stride, pads, draw(st.booleans()), draw(st.integers(0, 999))


@pytest.mark.parametrize("nd", [1, 2])
@given(data=st.data())
def test_pools_match_naive_loops(nd, data):
    shape, window, stride, pads, include, seed = data.draw(pool_config(nd))
    x = _rand(seed, *shape)
    want_max = ref.pool(x, window, stride, pads, "max")
    got_max = MAX[nd](x, window, stride, pads)
    np.testing.assert_allclose(np.asarray(got_max), want_max, **TOL)
    want_avg = ref.pool(x, window, stride, pads, "avg", include)
    got_avg = AVG[nd](x, window, stride, pads, count_include_pad=include)
    np.testing.assert_allclose(np.asarray(got_avg), want_avg, **TOL)


@pytest.mark.parametrize("nd", [1, 2])
def test_defaults_and_padding_forms(nd):
    x = _rand(1, 2, *(9,) * nd, 3)
    win = (3,) * nd
    for padding, pads in [
        (0, ((0, 0),) * nd),
        ("VALID", ((0, 0),) * nd),
        (1, ((1, 1),) * nd),
        ([(0, 1)] * nd, ((0, 1),) * nd),
        # SAME, stride 2 on 9: out = ceil(9 / 2) = 5, total pad = 4 * 2 + 3 - 9 = 2 -> (1, 1).
        ("same", ((1, 1),) * nd),
    ]:
        np.testing.assert_allclose(
            np.asarray(MAX[nd](x, 3, 2, padding)), ref.pool(x, win, (2,) * nd, pads, "max"), **TOL
        )
    # stride=None means stride = window (PyTorch's default, not 1).
    np.testing.assert_allclose(
        np.asarray(AVG[nd](x, 3)), ref.pool(x, win, win, ((0, 0),) * nd, "avg"), **TOL
    )


def test_matches_torch_avg_and_max_pool():
    torch = pytest.importorskip("torch")
    x = _rand(2, 2, 7, 8, 3)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW
    for window, stride, pad in [(3, 2, 1), (2, 1, 1), ((3, 2), (1, 2), (1, 0))]:
        for include in (True, False):
            want = torch.nn.functional.avg_pool2d(
                xt, window, stride, pad, count_include_pad=include
            ).numpy()
            got = P.avg_pool2d(x, window, stride, pad, count_include_pad=include)
            np.testing.assert_allclose(np.asarray(got), want.transpose(0, 2, 3, 1), **TOL)
        want = torch.nn.functional.max_pool2d(xt, window, stride, pad).numpy()
        got = P.max_pool2d(x, window, stride, pad)
        np.testing.assert_allclose(np.asarray(got), want.transpose(0, 2, 3, 1), **TOL)
    x1 = _rand(3, 2, 10, 4)
    want = torch.nn.functional.avg_pool1d(
        torch.from_numpy(np.ascontiguousarray(x1.transpose(0, 2, 1))),
        4,
        3,
        2,
        count_include_pad=False,
    ).numpy()
    got = P.avg_pool1d(x1, 4, 3, 2, count_include_pad=False)
    np.testing.assert_allclose(np.asarray(got), want.transpose(0, 2, 1), **TOL)


# --- gradients -------------------------------------------------------------------------------


def test_max_pool_gradient_goes_to_the_argmax():
    # flax's test_max_pool: 0..8 in a 3x3 map, 2x2 windows, stride 1.
    x = jnp.arange(9, dtype=jnp.float32).reshape((1, 3, 3, 1))
    y, vjp = jax.vjp(lambda v: P.max_pool2d(v, 2, 1), x)
    np.testing.assert_array_equal(np.asarray(y)[0, :, :, 0], [[4, 5], [7, 8]])
    (g,) = vjp(jnp.ones_like(y))
    np.testing.assert_array_equal(np.asarray(g)[0, :, :, 0], [[0, 0, 0], [0, 1, 1], [0, 1, 1]])


# (3, 0): windows that tile the input, the reshape + max path.
@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (1, 1), (3, 0)])
def test_max_pool_gradient_counts_windows_won(stride, pad):
    x = _distinct(4, 2, 6, 5, 2)
    cot = _rand(5, *P.max_pool2d(x, 3, stride, pad).shape)
    (g,) = jax.vjp(lambda v: P.max_pool2d(v, 3, stride, pad), x)[1](jnp.asarray(cot))
    # Independent: route each output's cotangent to the argmax of its (unpadded) window.
    want = np.zeros_like(x)
    n, h, w, c = x.shape
    for b in range(n):
        for ch in range(c):
            for i in range(cot.shape[1]):
                for j in range(cot.shape[2]):
                    rows = range(max(i * stride - pad, 0), min(i * stride - pad + 3, h))
                    cols = range(max(j * stride - pad, 0), min(j * stride - pad + 3, w))
                    r, s = max(((r, s) for r in rows for s in cols), key=lambda p: x[b, *p, ch])
                    want[b, r, s, ch] += cot[b, i, j, ch]
    np.testing.assert_allclose(np.asarray(g), want, **TOL)


@pytest.mark.parametrize("nd", [1, 2])
def test_check_grads_second_order(nd):
    x = _distinct(6, 2, *(5,) * nd, 2)
    check_grads(lambda v: MAX[nd](v, 2, 1, 1), (x,), order=2, modes=["fwd", "rev"], eps=0.1)
    xa = _rand(7, 2, *(5,) * nd, 2)
    for include in (True, False):
        check_grads(
            lambda v, inc=include: AVG[nd](v, 3, 2, 1, count_include_pad=inc),
            (xa,),
            order=2,
            modes=["fwd", "rev"],
        )


def test_pools_lower_to_one_reduce_window_primitive():
    # No transposes, and the monoid primitives (whose gradient is select_and_scatter_add),
    # not a generic reduce_window with a traced init value.
    x = jnp.ones((2, 8, 6, 3), jnp.float32)
    prims = [e.primitive.name for e in jax.make_jaxpr(lambda v: P.max_pool2d(v, 3, 2, 1))(x).eqns]
    assert prims == ["reduce_window_max"]
    f = lambda v: P.avg_pool2d(v, 3, 2, 1, count_include_pad=False)  # noqa: E731
    assert [e.primitive.name for e in jax.make_jaxpr(f)(x).eqns] == ["reduce_window_sum", "div"]


@pytest.mark.parametrize("nd", [1, 2])
def test_tiling_max_pool_is_a_reshape_and_maxima_with_the_reduce_window_values(nd):
    # stride == window, no padding: no reduce_window (whose CPU gradient is a slow scatter);
    # sizes that the window does not divide drop their remainder, as the windowed pool does.
    x = _rand(8, 2, *(7, 9)[:nd], 3)
    prims = [e.primitive.name for e in jax.make_jaxpr(lambda v: MAX[nd](v, 2))(x).eqns]
    assert "reduce_window_max" not in prims and "max" in prims, prims
    dims, pads = (1, *(2,) * nd, 1), ((0, 0),) * (nd + 2)
    want = lax.reduce_window(x, -np.inf, lax.max, dims, dims, pads)
    np.testing.assert_array_equal(np.asarray(MAX[nd](x, 2)), np.asarray(want))
    assert MAX[nd](x, 3, 3).shape == (2, *(2, 3)[:nd], 3)


def test_tiling_max_pool_splits_the_gradient_of_tied_maxima():
    x = jnp.asarray([[[[1.0], [1.0]], [[0.0], [1.0]]]])  # one 2x2 window, three tied maxima
    g = np.asarray(jax.grad(lambda v: jnp.sum(P.max_pool2d(v, 2)))(x))[0, :, :, 0]
    # A subgradient: all of it on the maxima. Halved at each tied maximum, within each row
    # first (the first row's tie splits 1/2 + 1/2), then between the two tied rows.
    np.testing.assert_allclose(g, [[1 / 4, 1 / 4], [0, 1 / 2]])


# --- global pools with masks -----------------------------------------------------------------


@pytest.mark.parametrize("spatial", [(6,), (3, 4)])
def test_global_pools_match_reference_and_ignore_masked_values(spatial):
    x = _rand(8, 3, *spatial, 2)
    mask = np.random.default_rng(9).random((3, *spatial)) < 0.6
    mask[0] = False  # an all-masked example gives 0
    mask[1].flat[0] = True
    for fn, kind in [(P.global_avg_pool, "avg"), (P.global_max_pool, "max")]:
        np.testing.assert_allclose(np.asarray(fn(x)), ref.global_pool(x, None, kind), **TOL)
        got = np.asarray(fn(x, jnp.asarray(mask)))
        np.testing.assert_allclose(got, ref.global_pool(x, mask, kind), **TOL)
        np.testing.assert_array_equal(got[0], 0.0)
        # Garbage at masked positions (inf, nan, huge) changes nothing.
        junk = np.where(mask[..., None], x, np.float32(np.nan))
        junk[0, ..., 0] = np.inf
        np.testing.assert_array_equal(np.asarray(fn(junk, jnp.asarray(mask))), got)
        # ... and gets exactly zero gradient, with no NaN anywhere.
        g = jax.grad(lambda v, f=fn: jnp.sum(f(v, jnp.asarray(mask)) ** 2))(jnp.asarray(x))
        g = np.asarray(g)
        assert np.isfinite(g).all()
        np.testing.assert_array_equal(g[~mask], 0.0)
        assert np.any(g[mask] != 0.0)


@pytest.mark.parametrize("shape", [(2, 0, 3), (2, 3, 0, 3)])
@pytest.mark.parametrize("masked", [False, True])
def test_global_max_pool_of_a_length_0_axis_gives_0_as_an_all_masked_example(shape, masked):
    # No positions to pool: every example is (vacuously) all masked, which the docstring
    # says gives 0; a mask of ones and one of zeros are the same empty array here, so the
    # unmasked call must agree with the masked one.
    x = jnp.zeros(shape, jnp.bfloat16)
    mask = jnp.ones(shape[:-1], bool) if masked else None
    for f in (P.global_max_pool, jax.jit(P.global_max_pool)):
        y = f(x, mask)
        assert y.shape == (2, 3) and y.dtype == jnp.bfloat16
        np.testing.assert_array_equal(np.asarray(y, np.float32), 0.0)
    g = jax.grad(lambda v: jnp.sum(P.global_max_pool(v, mask)))(x.astype(jnp.float32))
    assert g.shape == shape


@pytest.mark.parametrize("shape", [(2, 0, 3), (2, 3, 0, 3)])
def test_global_avg_pool_of_a_length_0_axis_gives_0_masked_or_not(shape):
    # As global_max_pool: no positions is all masked, which gives 0 (never NaN), and the
    # unmasked call agrees with a mask of ones (the same empty array as a mask of zeros).
    x = jnp.zeros(shape, jnp.float32)
    for mask in (None, jnp.ones(shape[:-1], bool)):
        for f in (P.global_avg_pool, jax.jit(P.global_avg_pool)):
            y = f(x, mask)
            assert y.shape == (2, 3) and y.dtype == jnp.float32
            np.testing.assert_array_equal(np.asarray(y), 0.0)
        g = jax.grad(lambda v, m=mask: jnp.sum(P.global_avg_pool(v, m)))(x)
        assert g.shape == shape


def test_global_avg_pool_gradient_is_one_over_count():
    x = _rand(10, 2, 5, 3)
    mask = np.array([[1, 1, 0, 1, 0], [1, 0, 0, 0, 0]], bool)
    g = np.asarray(jax.grad(lambda v: jnp.sum(P.global_avg_pool(v, jnp.asarray(mask))))(x))
    want = mask[..., None] / mask.sum(axis=1)[:, None, None] * np.ones((1, 1, 3))
    np.testing.assert_allclose(g, want, **TOL)


# --- transformations -------------------------------------------------------------------------


def test_jit_equals_eager_and_vmap_equals_loop():
    x = _rand(11, 4, 2, 7, 6, 3)  # an extra leading axis of 4 batches
    mask = np.random.default_rng(12).random((4, 2, 7, 6)) < 0.5
    cases = [
        lambda v, m: P.max_pool2d(v, 3, 2, 1),
        lambda v, m: P.avg_pool2d(v, (2, 3), (1, 2), ((1, 0), (1, 1)), count_include_pad=False),
        lambda v, m: P.global_max_pool(v, m),
        lambda v, m: P.global_avg_pool(v, m),
    ]
    for f in cases:
        eager = np.asarray(f(x[0], mask[0]))
        np.testing.assert_allclose(np.asarray(jax.jit(f)(x[0], mask[0])), eager, **TOL)
        loop = np.stack([np.asarray(f(x[i], mask[i])) for i in range(4)])
        np.testing.assert_allclose(np.asarray(jax.vmap(f)(x, mask)), loop, **TOL)


# --- errors ----------------------------------------------------------------------------------


def test_errors():
    x2 = np.zeros((1, 4, 4, 2), np.float32)
    x1 = np.zeros((1, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"max_pool2d: x must have rank 4 \(N, H, W, C\), got"):
        P.max_pool2d(x1, 2)
    with pytest.raises(ValueError, match=r"avg_pool1d: x must have rank 3 \(N, W, C\), got"):
        P.avg_pool1d(x2, 2)
    with pytest.raises(TypeError, match="max_pool1d: x must be an array"):
        P.max_pool1d([[1.0]], 2)
    with pytest.raises(TypeError, match="max_pool2d: x must have a floating dtype, got int32"):
        P.max_pool2d(np.zeros((1, 4, 4, 2), np.int32), 2)
    with pytest.raises(ValueError, match=r"max_pool2d: window must fit in the padded input"):
        P.max_pool2d(x2, 5, padding=0)
    with pytest.raises(
        ValueError, match=r"avg_pool2d: window must fit in the padded input \(6, 6\)"
    ):
        P.avg_pool2d(x2, (7, 2), padding=1)
    with pytest.raises(ValueError, match="max_pool2d: window must be positive, got"):
        P.max_pool2d(x2, (0, 2))
    with pytest.raises(ValueError, match="avg_pool1d: stride must be positive, got"):
        P.avg_pool1d(x1, 2, stride=0)
    with pytest.raises(TypeError, match="max_pool2d: window must contain ints, got float 2.0"):
        P.max_pool2d(x2, (2.0, 2))
    with pytest.raises(TypeError, match="avg_pool2d: stride must be an int or 2 ints, got float"):
        P.avg_pool2d(x2, 2, stride=1.5)
    with pytest.raises(TypeError, match="max_pool1d: padding must contain ints"):
        P.max_pool1d(x1, 2, padding=[(0.5, 1)])
    with pytest.raises(ValueError, match=r"max_pool2d: padding must be at most half the window"):
        P.max_pool2d(x2, 2, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool1d: padding must be at most half the window"):
        P.avg_pool1d(x1, 3, padding=[(0, 2)])
    with pytest.raises(ValueError, match=r"max_pool2d: padding must be non-negative"):
        P.max_pool2d(x2, 2, padding=-1)
    with pytest.raises(ValueError, match="max_pool1d: padding must be 'VALID', 'SAME', an int"):
        P.max_pool1d(x1, 2, padding="FULL")
    with pytest.raises(ValueError, match="avg_pool2d: padding must be 'VALID', 'SAME', an int"):
        P.avg_pool2d(x2, 2, padding="half")
    with pytest.raises(TypeError, match="avg_pool2d: count_include_pad must be a bool, got int"):
        P.avg_pool2d(x2, 2, count_include_pad=0)


def test_global_pool_errors():
    x = np.zeros((2, 3, 4, 5), np.float32)
    with pytest.raises(
        ValueError, match=r"global_avg_pool: x must have rank >= 3 \(N, \.\.\., C\)"
    ):
        P.global_avg_pool(np.zeros((2, 5), np.float32))
    with pytest.raises(TypeError, match="global_max_pool: x must be an array"):
        P.global_max_pool(None)
    with pytest.raises(TypeError, match="global_max_pool: x must have a floating dtype"):
        P.global_max_pool(np.zeros((2, 3, 5), np.int8))
    with pytest.raises(TypeError, match="global_avg_pool: mask must be a bool array, got float32"):
        P.global_avg_pool(x, np.ones((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"global_max_pool: mask must have shape \(2, 3, 4\)"):
        P.global_max_pool(x, np.ones((2, 3, 4, 5), bool))
