"""Normalisation: batch norm (inference with given statistics; training with batch statistics)
and layer norm.

Batch statistics are taken over every axis but the last (``N, H, W`` for NHWC, ``N, W`` for
NWC), so one channel's mean and variance cover the whole batch and every position. Variances
are biased (divide by the count), as both Flax and PyTorch use for normalising; PyTorch's
*running* variance uses the unbiased estimate, which a layer can get by multiplying by
``count / (count - 1)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from jaxcnn import _checks


def batch_norm(x, scale, bias, mean, var, *, epsilon=1e-5) -> jax.Array:
    """Normalise with given (running) statistics: ``(x - mean) / sqrt(var + eps) * scale + bias``.

    Args:
      x: shape ``(N, ..., C)`` (channels last, rank >= 2), floating.
      scale: ``(C,)`` or ``None`` (no scaling).
      bias: ``(C,)`` or ``None`` (no shift).
      mean: ``(C,)`` per-channel mean.
      var: ``(C,)`` per-channel (biased) variance.
      epsilon: non-negative real added to ``var``.

    Returns:
      Shape of ``x``.

    Raises:
      TypeError: a non-array or non-floating ``x``, or a non-real ``epsilon``.
      ValueError: ``x`` of rank < 2, a statistic or parameter not of shape ``(C,)``, or a
        negative ``epsilon``.
    """
    fn = "batch_norm"
    c = _channels(x, fn)
    _epsilon(epsilon, fn)
    for name, v in (("mean", mean), ("var", var)):
        _vector(v, c, fn, name)
    inv = lax.rsqrt(var + epsilon)  # (C,)
    return _affine(x, mean, inv, scale, bias, c, fn)


def batch_norm_train(x, scale, bias, *, epsilon=1e-5) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Normalise with the batch's own statistics, over every axis but the last.

    Gradients flow through the statistics (this is the training-mode function).

    Args:
      x: shape ``(N, ..., C)`` (channels last, rank >= 2), floating.
      scale: ``(C,)`` or ``None``.
      bias: ``(C,)`` or ``None``.
      epsilon: non-negative real added to the variance.

    Returns:
      ``(y, batch_mean, batch_var)``: ``y`` of ``x``'s shape, and the per-channel mean and
      biased variance, each ``(C,)``, for a layer's running averages.

    Raises:
      TypeError / ValueError: as :func:`batch_norm`; ValueError: ``x`` has no values to take
        statistics from (an empty batch or spatial axis), which would make them NaN.
    """
    fn = "batch_norm_train"
    c = _channels(x, fn)
    _epsilon(epsilon, fn)
    if x.size == 0:  # like PyTorch: batch statistics need at least one value per channel
        raise ValueError(
            f"{fn}: x needs at least one value per channel for batch statistics, got shape "
            f"{tuple(x.shape)}"
        )
    axes = tuple(range(x.ndim - 1))
    mean = jnp.mean(x, axis=axes)  # (C,)
    # Two-pass variance: E[x^2] - E[x]^2 cancels catastrophically when |mean| >> std.
    var = jnp.mean(jnp.square(x - mean.reshape((1,) * (x.ndim - 1) + (c,))), axis=axes)
    y = _affine(x, mean, lax.rsqrt(var + epsilon), scale, bias, c, fn)
    return y, mean, var


def layer_norm(x, scale=None, bias=None, *, epsilon=1e-5, axis=-1) -> jax.Array:
    """Normalise each example over ``axis``: ``(x - mean) / sqrt(var + eps) * scale + bias``.

    Args:
      x: any shape of rank >= 1, floating (e.g. ``(N, L, D)`` or ``(N, H, W, C)``).
      scale: ``None`` or an array of the normalised axes' sizes in increasing axis order,
        e.g. ``(D,)`` for ``axis=-1`` or ``(H, W, C)`` for ``axis=(-3, -2, -1)``.
      bias: ``None`` or the same shape as ``scale``.
      epsilon: positive real added to the (biased) variance (0 would turn a constant row,
        variance 0, into 0/0 = NaN).
      axis: an int or a tuple of distinct ints (negative allowed): the axes normalised over,
        e.g. ``-1`` (features) or ``(-3, -2, -1)`` (a whole NHWC example).

    Returns:
      Shape of ``x``.

    Raises:
      TypeError: a non-array or non-floating ``x``, a non-int axis, or a non-real ``epsilon``.
      ValueError: a rank-0 ``x``, an axis out of range or repeated, ``scale`` / ``bias`` of
        the wrong shape, or an ``epsilon`` that is not > 0.
    """
    fn = "layer_norm"
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"{fn}: x must be an array, got {type(x).__name__}")
    if not shape:
        raise ValueError(f"{fn}: x must have rank >= 1 (an axis to normalise over), got shape ()")
    _checks.floating(x, fn, "x")
    _epsilon(epsilon, fn, positive=True)
    axes = _axes(axis, len(shape), fn)
    mean = jnp.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = jnp.mean(jnp.square(centred), axis=axes, keepdims=True)
    y = centred * lax.rsqrt(var + epsilon)
    # Parameters live on the normalised axes; size-1 elsewhere so no rank promotion happens.
    want = tuple(shape[a] for a in axes)
    bshape = tuple(shape[a] if a in axes else 1 for a in range(len(shape)))
    for name, p in (("scale", scale), ("bias", bias)):
        if p is None:
            continue
        if getattr(p, "shape", None) is None or tuple(p.shape) != want:
            got = getattr(p, "shape", type(p).__name__)
            raise ValueError(f"{fn}: {name} must have shape {want}, got {got}")
    if scale is not None:
        y = y * scale.reshape(bshape)
    if bias is not None:
        y = y + bias.reshape(bshape)
    return y


# --- helpers -------------------------------------------------------------------------------


def _channels(x, fn: str) -> int:
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"{fn}: x must be an array (N, ..., C), got {type(x).__name__}")
    if len(shape) < 2:
        raise ValueError(f"{fn}: x must have rank >= 2 (N, ..., C), got shape {tuple(shape)}")
    _checks.floating(x, fn, "x")
    return shape[-1]


def _vector(v, c: int, fn: str, name: str) -> None:
    if getattr(v, "shape", None) is None or tuple(v.shape) != (c,):
        got = getattr(v, "shape", type(v).__name__)
        raise ValueError(f"{fn}: {name} must have shape ({c},) (one per channel), got {got}")


def _epsilon(epsilon, fn: str, *, positive: bool = False) -> None:
    if not _checks.is_real(epsilon):
        raise TypeError(f"{fn}: epsilon must be a real number, got {type(epsilon).__name__}")
    if not epsilon >= 0:
        raise ValueError(f"{fn}: epsilon must be non-negative, got {epsilon!r}")
    if positive and epsilon == 0:
        raise ValueError(
            f"{fn}: epsilon must be > 0 (a constant row has variance 0: 0/0 = NaN), got 0"
        )


def _affine(x, mean, inv, scale, bias, c, fn):
    """``(x - mean) * inv * scale + bias`` with every ``(C,)`` vector reshaped to x's rank."""
    for name, v in (("scale", scale), ("bias", bias)):
        if v is not None:
            _vector(v, c, fn, name)
    lead = (1,) * (x.ndim - 1)
    mult = inv if scale is None else inv * scale  # fold scale in: one multiply per element
    y = (x - mean.reshape(lead + (c,))) * mult.reshape(lead + (c,))
    if bias is not None:
        y = y + bias.reshape(lead + (c,))
    return y


def _axes(axis, ndim: int, fn: str) -> tuple[int, ...]:
    raw = (axis,) if _checks.is_int(axis) else axis
    if not isinstance(raw, tuple | list) or not all(_checks.is_int(a) for a in raw):
        raise TypeError(f"{fn}: axis must be an int or a tuple of ints, got {axis!r}")
    if not raw or any(not -ndim <= a < ndim for a in raw):
        raise ValueError(
            f"{fn}: axis must be in [-{ndim}, {ndim}) for x of rank {ndim}, got {axis!r}"
        )
    axes = tuple(sorted(a % ndim for a in raw))
    if len(set(axes)) != len(axes):
        raise ValueError(f"{fn}: axis must not repeat an axis, got {axis!r}")
    return axes
