"""Pooling over channels-last batches: windowed max / average (1D, 2D) and global pools.

Windowed pools follow PyTorch's ``max_pool`` / ``avg_pool`` (``ceil_mode=False``): ``stride``
defaults to ``window``, padding is at most half the window, and ``count_include_pad`` picks the
average's divisor. Each is one ``jax.lax.reduce_window`` in the caller's layout (window and
stride 1 on the batch and channel axes), so there are no transposes, except a max pool whose
windows tile the input (stride == window, no padding), which is a reshape and a max: see
:func:`_tiled_max` for why.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcnn import _checks
from jaxcnn.functional._padding import conv_padding

_LAYOUT = {1: "(N, W, C)", 2: "(N, H, W, C)"}


def max_pool1d(x, window, stride=None, padding=0) -> jax.Array:
    """Max over sliding windows of a ``(N, W, C)`` batch, each channel on its own.

    Args:
      x: shape ``(N, W, C)`` (NWC), floating.
      window: positive int or 1-sequence.
      stride: positive int or 1-sequence; ``None`` means ``window`` (as PyTorch).
      padding: ``"VALID"``, ``"SAME"``, an int, or a 1-sequence of an int or ``(low, high)``
        pair; padded positions hold ``-inf`` so they never win. Each pad must be at most
        ``window // 2`` (PyTorch's rule: every window then sees a real element).

    Returns:
      Shape ``(N, W_out, C)``, ``W_out = (W + low + high - window) // stride + 1``.

    Raises:
      TypeError: a non-array, non-floating ``x``, or a float where an int is needed.
      ValueError: wrong rank, non-positive window or stride, bad padding, or a window larger
        than the padded input.
    """
    return _pool(x, window, stride, padding, 1, "max_pool1d", "max", True)


def max_pool2d(x, window, stride=None, padding=0) -> jax.Array:
    """Max over sliding windows of a ``(N, H, W, C)`` batch, each channel on its own.

    Args:
      x: shape ``(N, H, W, C)`` (NHWC), floating.
      window: positive int or ``(KH, KW)``.
      stride: positive int or pair; ``None`` means ``window`` (as PyTorch).
      padding: ``"VALID"``, ``"SAME"``, an int, or one int or ``(low, high)`` pair per spatial
        axis; padded positions hold ``-inf``; each pad at most ``window // 2`` on its axis.

    Returns:
      Shape ``(N, H_out, W_out, C)``, ``H_out = (H + low + high - KH) // stride_h + 1`` (same
      for W).

    Raises:
      TypeError: a non-array, non-floating ``x``, or a float where an int is needed.
      ValueError: wrong rank, non-positive window or stride, bad padding, or a window larger
        than the padded input.
    """
    return _pool(x, window, stride, padding, 2, "max_pool2d", "max", True)


def avg_pool1d(x, window, stride=None, padding=0, count_include_pad=True) -> jax.Array:
    """Mean over sliding windows of a ``(N, W, C)`` batch, each channel on its own.

    Args:
      x: shape ``(N, W, C)`` (NWC), floating.
      window: positive int or 1-sequence.
      stride: positive int or 1-sequence; ``None`` means ``window``.
      padding: as :func:`max_pool1d`, but padded positions hold zeros.
      count_include_pad: ``True`` divides every window by ``window`` (zeros included);
        ``False`` divides by the number of real (unpadded) elements it covers, as PyTorch.
        (TensorFlow's ``"SAME"`` average pooling is ``count_include_pad=False``.)

    Returns:
      Shape ``(N, W_out, C)``, ``W_out = (W + low + high - window) // stride + 1``.

    Raises:
      TypeError: a non-array, non-floating ``x``, a float where an int is needed, or a
        non-bool ``count_include_pad``.
      ValueError: wrong rank, non-positive window or stride, bad padding, or a window larger
        than the padded input.
    """
    return _pool(x, window, stride, padding, 1, "avg_pool1d", "avg", count_include_pad)


def avg_pool2d(x, window, stride=None, padding=0, count_include_pad=True) -> jax.Array:
    """Mean over sliding windows of a ``(N, H, W, C)`` batch, each channel on its own.

    Args:
      x: shape ``(N, H, W, C)`` (NHWC), floating.
      window: positive int or ``(KH, KW)``.
      stride: positive int or pair; ``None`` means ``window``.
      padding: as :func:`max_pool2d`, but padded positions hold zeros.
      count_include_pad: ``True`` divides by ``KH * KW``; ``False`` by the number of real
        elements under the window, as PyTorch. (TensorFlow's ``"SAME"`` average pooling is
        ``count_include_pad=False``.)

    Returns:
      Shape ``(N, H_out, W_out, C)`` (sizes as :func:`max_pool2d`).

    Raises:
      TypeError: a non-array, non-floating ``x``, a float where an int is needed, or a
        non-bool ``count_include_pad``.
      ValueError: wrong rank, non-positive window or stride, bad padding, or a window larger
        than the padded input.
    """
    return _pool(x, window, stride, padding, 2, "avg_pool2d", "avg", count_include_pad)


def global_avg_pool(x, mask=None) -> jax.Array:
    """Mean over every spatial axis: ``(N, ..., C) -> (N, C)``.

    Args:
      x: shape ``(N, W, C)``, ``(N, H, W, C)`` or more spatial axes, floating.
      mask: optional bool array of shape ``x.shape[:-1]`` (``(N, W)`` or ``(N, H, W)``); ``True``
        marks real positions. Masked positions never affect the result (even if they hold
        ``inf`` or ``nan``) and receive zero gradient.

    Returns:
      Shape ``(N, C)``: the mean over the unmasked positions; an example whose positions are
      all masked gives 0 (never NaN), and so does one with no positions at all (a spatial
      axis of length 0, masked or not; ``jnp.mean`` would give NaN).

    Raises:
      TypeError: a non-array or non-floating ``x``, or a mask that is not bool.
      ValueError: ``x`` of rank < 3, or a mask of the wrong shape.
    """
    fn = "global_avg_pool"
    axes = _global_axes(x, mask, fn)
    if any(x.shape[a] == 0 for a in axes):  # nothing to pool is all-masked, as global_max_pool
        return jnp.zeros((x.shape[0], x.shape[-1]), x.dtype)
    if mask is None:
        return jnp.mean(x, axis=axes)
    m = mask[..., None]  # (N, ..., 1): broadcast over channels explicitly
    total = jnp.sum(jnp.where(m, x, jnp.zeros((), x.dtype)), axis=axes)  # (N, C)
    count = jnp.sum(m, axis=axes, dtype=x.dtype)  # (N, 1)
    return total / jnp.maximum(count, 1)


def global_max_pool(x, mask=None) -> jax.Array:
    """Max over every spatial axis: ``(N, ..., C) -> (N, C)``.

    Args:
      x: shape ``(N, W, C)``, ``(N, H, W, C)`` or more spatial axes, floating.
      mask: optional bool array of shape ``x.shape[:-1]``; ``True`` marks real positions.
        Masked positions never affect the result and receive zero gradient.

    Returns:
      Shape ``(N, C)``: the max over the unmasked positions; an example whose positions are all
      masked gives 0 (never ``-inf``), and so does one with no positions at all (a spatial
      axis of length 0, masked or not).

    Raises:
      TypeError: a non-array or non-floating ``x``, or a mask that is not bool.
      ValueError: ``x`` of rank < 3, or a mask of the wrong shape.
    """
    fn = "global_max_pool"
    axes = _global_axes(x, mask, fn)
    if any(x.shape[a] == 0 for a in axes):  # max has no identity: nothing to pool is all-masked
        return jnp.zeros((x.shape[0], x.shape[-1]), x.dtype)
    if mask is None:
        return jnp.max(x, axis=axes)
    m = mask[..., None]
    neg_inf = jnp.array(-jnp.inf, x.dtype)
    best = jnp.max(jnp.where(m, x, neg_inf), axis=axes)  # (N, C), -inf if all masked
    any_real = jnp.any(m, axis=axes)  # (N, 1)
    return jnp.where(any_real, best, jnp.zeros((), x.dtype))


# --- helpers -------------------------------------------------------------------------------


def _pool(x, window, stride, padding, nd, fn, kind, count_include_pad):
    shape = _checks.rank(x, nd + 2, fn, "x", _LAYOUT[nd])
    _checks.floating(x, fn, "x")
    win = _checks.positive(_checks.ntuple(window, nd, fn, "window"), fn, "window")
    if stride is None:
        strides = win
    else:
        strides = _checks.positive(_checks.ntuple(stride, nd, fn, "stride"), fn, "stride")
    if not isinstance(count_include_pad, bool):
        raise TypeError(
            f"{fn}: count_include_pad must be a bool, got {type(count_include_pad).__name__} "
            f"{count_include_pad!r}"
        )
    if isinstance(padding, str) and padding.upper() not in ("VALID", "SAME"):
        raise ValueError(
            f"{fn}: padding must be 'VALID', 'SAME', an int or (low, high) pairs, got {padding!r}"
        )
    spatial = shape[1:-1]
    pads = conv_padding(padding, spatial, win, strides, (1,) * nd, fn)
    for (lo, hi), k in zip(pads, win, strict=True):
        if max(lo, hi) > k // 2:
            raise ValueError(
                f"{fn}: padding must be at most half the window ({k} // 2 = {k // 2}), "
                f"got {list(pads)} for window {win}"
            )
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(spatial, pads, strict=True))
    if any(k > n for k, n in zip(win, padded, strict=True)):
        raise ValueError(f"{fn}: window must fit in the padded input {padded}, got window {win}")
    dims = (1, *win, 1)
    steps = (1, *strides, 1)
    full_pads = ((0, 0), *pads, (0, 0))
    if kind == "max":
        # reduce_window pads with its init value, so -inf padding can never be the max. The
        # init values are NumPy constants so JAX recognises the monoid and emits
        # reduce_window_max / _sum (whose gradients are select_and_scatter_add / a pad-conv),
        # not a generic reduce_window.
        if win == strides and not any(lo or hi for lo, hi in pads):
            return _tiled_max(x, win)
        init = np.array(-np.inf, x.dtype)
        return lax.reduce_window(x, init, lax.max, dims, steps, full_pads)
    total = lax.reduce_window(x, np.array(0, x.dtype), lax.add, dims, steps, full_pads)
    divisor = _divisor(spatial, win, strides, pads, count_include_pad)
    return total / jnp.asarray(divisor, x.dtype)


def _tiled_max(x, win) -> jax.Array:
    """Max over non-overlapping, unpadded windows (stride == window) as reshape + maxima.

    ``(N, *spatial, C) -> (N, *spatial // win, C)``: a trailing remainder is dropped, as the
    windowed pool does. Same values as ``reduce_window``; the point is the gradient: XLA's CPU
    ``select_and_scatter`` (reduce_window max's gradient) is a slow serial scatter. The input is
    reshaped into tiles and each window axis is folded away with elementwise ``maximum``s of its
    slices, whose forward and gradient XLA fuses into single passes (LeNet's 28x28x32 pool with
    its ReLU, forward plus gradient at batch 256: 10 ms, against 40 ms for ``jnp.max`` over the
    window axes and more for ``select_and_scatter``). Where a window holds several equal maxima
    the gradient is split between them (halved at each tied ``maximum``, last window axis
    first) instead of going to the first one (PyTorch, ``reduce_window``); every such split is
    a valid subgradient, and they differ only on exact ties.
    """
    spatial = x.shape[1:-1]
    out = [size // k for size, k in zip(spatial, win, strict=True)]
    used = tuple(o * k for o, k in zip(out, win, strict=True))
    if used != tuple(spatial):
        x = lax.slice(x, (0,) * x.ndim, (x.shape[0], *used, x.shape[-1]))
    split = [d for o, k in zip(out, win, strict=True) for d in (o, k)]
    tiles = x.reshape(x.shape[0], *split, x.shape[-1])  # (N, H/kh, kh, W/kw, kw, C)
    for axis, k in reversed(list(zip(range(2, 2 * len(win) + 1, 2), win, strict=True))):
        parts = [lax.index_in_dim(tiles, j, axis, keepdims=False) for j in range(k)]
        tiles = functools.reduce(jnp.maximum, parts)
    return tiles


def _divisor(spatial, win, strides, pads, count_include_pad) -> np.ndarray:
    """Static ``(1, *out, 1)`` divisor: the window size, or the real elements under it.

    The count of real elements is separable (a product of per-axis counts), so it is a shape
    computation done once in NumPy rather than a second reduce_window at run time.
    """
    counts = []
    for size, k, s, (lo, hi) in zip(spatial, win, strides, pads, strict=True):
        out = (size + lo + hi - k) // s + 1
        start = np.arange(out) * s - lo  # first input index under each window
        if count_include_pad:
            counts.append(np.full(out, k, np.float64))
        else:
            stop = np.minimum(start + k, size)
            counts.append((stop - np.maximum(start, 0)).astype(np.float64))
    grid = counts[0]
    for c in counts[1:]:
        grid = np.multiply.outer(grid, c)
    return grid.reshape((1, *grid.shape, 1))


def _global_axes(x, mask, fn) -> tuple[int, ...]:
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"{fn}: x must be an array (N, ..., C), got {type(x).__name__}")
    if len(shape) < 3:
        raise ValueError(
            f"{fn}: x must have rank >= 3 (N, ..., C) with at least one spatial axis, "
            f"got shape {tuple(shape)}"
        )
    _checks.floating(x, fn, "x")
    if mask is not None:
        mshape = getattr(mask, "shape", None)
        if mshape is None or np.dtype(mask.dtype) != np.bool_:
            got = getattr(mask, "dtype", type(mask).__name__)
            raise TypeError(f"{fn}: mask must be a bool array, got {got}")
        if tuple(mshape) != tuple(shape[:-1]):
            raise ValueError(
                f"{fn}: mask must have shape {tuple(shape[:-1])} (x's shape without channels), "
                f"got {tuple(mshape)}"
            )
    return tuple(range(1, len(shape) - 1))
