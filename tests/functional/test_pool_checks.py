"""Pools at their defaults and on the tiling path with padding, against the naive loops of
tests/reference_pool.py, and every argument check with its message in full (test_pool.py
matches most by a prefix; mutation testing, docs/mutation.md, showed which words no test read)."""

from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.functional import pool as P
from tests import reference_pool as ref

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("nd", [1, 2])
def test_defaults_stride_is_the_window_no_padding_padded_zeros_counted(nd):
    x = _rand(0, 2, *(7,) * nd, 3)
    mx, avg = {1: (P.max_pool1d, P.avg_pool1d), 2: (P.max_pool2d, P.avg_pool2d)}[nd]
    win, one, none = (3,) * nd, (1,) * nd, ((0, 0),) * nd
    np.testing.assert_allclose(mx(x, 3), ref.pool(x, win, win, none, "max"), **TOL)
    np.testing.assert_allclose(mx(x, 3, 1), ref.pool(x, win, one, none, "max"), **TOL)
    np.testing.assert_allclose(avg(x, 3, 1), ref.pool(x, win, one, none, "avg"), **TOL)
    pads = ((1, 1),) * nd
    np.testing.assert_allclose(avg(x, 3, 1, 1), ref.pool(x, win, one, pads, "avg", True), **TOL)


@pytest.mark.parametrize("pads", [[(1, 0)], [(0, 1)], [(1, 1)]])
def test_padded_windows_that_tile_take_the_windowed_path(pads):
    # stride == window but padded: the reshape + max shortcut would drop the padding
    x = _rand(1, 2, 7, 3)
    want = ref.pool(x, (2,), (2,), pads, "max")
    np.testing.assert_allclose(P.max_pool1d(x, 2, 2, pads), want, **TOL)
    x2 = _rand(2, 1, 5, 4, 2)
    want2 = ref.pool(x2, (2, 2), (2, 2), [pads[0], (0, 0)], "max")
    np.testing.assert_allclose(P.max_pool2d(x2, 2, 2, [pads[0], 0]), want2, **TOL)


def test_tiling_max_pool_drops_the_remainder_on_each_axis():
    x = _rand(3, 2, 7, 5, 3)
    for win in [(2, 2), (3, 2), (2, 5), (7, 1)]:
        want = ref.pool(x, win, win, ((0, 0), (0, 0)), "max")
        np.testing.assert_allclose(P.max_pool2d(x, win), want, **TOL)


def test_average_without_the_padding_divides_by_real_elements_per_axis():
    x = _rand(4, 1, 5, 6, 2)
    pads = ((1, 0), (1, 1))
    got = P.avg_pool2d(x, (2, 3), (2, 2), pads, count_include_pad=False)
    np.testing.assert_allclose(got, ref.pool(x, (2, 3), (2, 2), pads, "avg", False), **TOL)
    # by hand on 1..5: windows [pad, 1], [2, 3], [4, 5]; the pad counts only by default
    ramp = jnp.arange(1, 6, dtype=jnp.float32).reshape(1, 5, 1)
    got = P.avg_pool1d(ramp, 2, 2, [(1, 0)], count_include_pad=False)
    np.testing.assert_allclose(np.asarray(got).ravel(), [1.0, 2.5, 4.5])
    got = P.avg_pool1d(ramp, 2, 2, [(1, 0)])
    np.testing.assert_allclose(np.asarray(got).ravel(), [0.5, 2.5, 4.5])


def test_global_pools_by_hand():
    x = jnp.asarray(np.array([[[1.0, -2.0], [3.0, -4.0], [5.0, -9.0]]], np.float32))  # (1,3,2)
    np.testing.assert_allclose(P.global_avg_pool(x), [[3.0, -5.0]])
    np.testing.assert_allclose(P.global_max_pool(x), [[5.0, -2.0]])
    mask = jnp.asarray([[True, False, True]])
    np.testing.assert_allclose(P.global_avg_pool(x, mask), [[3.0, -5.5]])
    np.testing.assert_allclose(P.global_max_pool(x, mask), [[5.0, -2.0]])
    mask = jnp.asarray([[False, True, False]])
    np.testing.assert_allclose(P.global_avg_pool(x, mask), [[3.0, -4.0]])
    np.testing.assert_allclose(P.global_max_pool(x, mask), [[3.0, -4.0]])
    none = jnp.zeros((1, 3), bool)
    np.testing.assert_array_equal(P.global_avg_pool(x, none), [[0.0, 0.0]])
    np.testing.assert_array_equal(P.global_max_pool(x, none), [[0.0, 0.0]])


X1, X2 = np.zeros((1, 4, 2), np.float32), np.zeros((1, 4, 4, 2), np.float32)


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda: P.max_pool1d(X2, 2), ValueError,
         "max_pool1d: x must have rank 3 (N, W, C), got shape (1, 4, 4, 2)"),
        (lambda: P.avg_pool2d(X1, 2), ValueError,
         "avg_pool2d: x must have rank 4 (N, H, W, C), got shape (1, 4, 2)"),
        (lambda: P.avg_pool1d(X1.astype(np.int32), 2), TypeError,
         "avg_pool1d: x must have a floating dtype, got int32"),
        (lambda: P.max_pool1d(X1, 0), ValueError, "max_pool1d: window must be positive, got (0,)"),
        (lambda: P.avg_pool2d(X2, (2, 2, 2)), ValueError,
         "avg_pool2d: window must be an int or 2 ints, got (2, 2, 2)"),
        (lambda: P.max_pool2d(X2, 2, (1, 0)), ValueError,
         "max_pool2d: stride must be positive, got (1, 0)"),
        (lambda: P.max_pool1d(X1, 2, (1, 1)), ValueError,
         "max_pool1d: stride must be an int or 1 int, got (1, 1)"),
        (lambda: P.avg_pool1d(X1, 2, count_include_pad="no"), TypeError,
         "avg_pool1d: count_include_pad must be a bool, got str 'no'"),
        (lambda: P.max_pool1d(X1, 2, padding="FULL"), ValueError,
         "max_pool1d: padding must be 'VALID', 'SAME', an int or (low, high) pairs, got 'FULL'"),
        (lambda: P.max_pool2d(X2, 2, padding=((0, 0), (0, 2))), ValueError,
         "max_pool2d: padding must be at most half the window (2 // 2 = 1), got "
         "[(0, 0), (0, 2)] for window (2, 2)"),
        (lambda: P.avg_pool1d(X1, 4, padding=(3,)), ValueError,
         "avg_pool1d: padding must be at most half the window (4 // 2 = 2), got [(3, 3)] for "
         "window (4,)"),
        (lambda: P.max_pool1d(X1, 2, padding=-1), ValueError,
         "max_pool1d: padding must be non-negative, got -1"),
        (lambda: P.avg_pool2d(X2, (2, 7), padding=(0, 1)), ValueError,
         "avg_pool2d: window must fit in the padded input (4, 6), got window (2, 7)"),
        (lambda: P.global_avg_pool([[[1.0]]]), TypeError,
         "global_avg_pool: x must be an array (N, ..., C), got list"),
        (lambda: P.global_max_pool(np.zeros((2, 5), np.float32)), ValueError,
         "global_max_pool: x must have rank >= 3 (N, ..., C) with at least one spatial axis, "
         "got shape (2, 5)"),
        (lambda: P.global_avg_pool(np.zeros((2, 3, 5), np.int8)), TypeError,
         "global_avg_pool: x must have a floating dtype, got int8"),
        (lambda: P.global_max_pool(X2, np.ones((1, 4, 4), np.int32)), TypeError,
         "global_max_pool: mask must be a bool array, got int32"),
        (lambda: P.global_avg_pool(X2, [[True] * 4] * 4), TypeError,
         "global_avg_pool: mask must be a bool array, got list"),
        (lambda: P.global_avg_pool(X2, np.ones((1, 4), bool)), ValueError,
         "global_avg_pool: mask must have shape (1, 4, 4) (x's shape without channels), "
         "got (1, 4)"),
    ],
)  # fmt: skip
def test_every_check_names_the_function_the_argument_and_what_it_got(call, exc, message):
    with pytest.raises(exc, match="^" + re.escape(message) + "$"):
        call()


@pytest.mark.parametrize("fn", [P.global_avg_pool, P.global_max_pool])
def test_global_pools_keep_a_bfloat16_input_bfloat16(fn):
    # every constant inside (zeros, -inf, the count) takes x's dtype: no silent float32 result
    x = jnp.asarray(_rand(5, 2, 3, 4), jnp.bfloat16)
    mask = jnp.asarray([[True, False, True], [False, False, False]])
    for got in (fn(x), fn(x, mask), fn(jnp.zeros((2, 0, 4), jnp.bfloat16))):
        assert got.dtype == jnp.bfloat16
    want = ref.global_pool(np.asarray(x, np.float32), np.asarray(mask), fn.__name__[7:10])
    np.testing.assert_allclose(np.asarray(fn(x, mask), np.float32), want, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_windowed_pools_keep_a_bfloat16_input_bfloat16(kind):
    # stride 1 and padding take the reduce_window path; the average's divisor must take x's
    # dtype (a divisor left float32 made a bfloat16 average float32, silently)
    x = jnp.asarray(_rand(6, 2, 7, 3), jnp.bfloat16)
    fn = {"max": P.max_pool1d, "avg": P.avg_pool1d}[kind]
    got = fn(x, 3, 1, 1)
    assert got.dtype == jnp.bfloat16
    want = ref.pool(np.asarray(x, np.float32), (3,), (1,), ((1, 1),), kind, True)
    np.testing.assert_allclose(np.asarray(got, np.float32), want, rtol=1e-2, atol=1e-2)
