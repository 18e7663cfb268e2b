"""Pooling layers (no parameters): thin Flax Linen modules over :mod:`jaxcnn.functional.pool`.

``MaxPool`` / ``AvgPool`` work on 1D ``(N, W, C)`` and 2D ``(N, H, W, C)`` batches: the number of
spatial axes is ``len(window)`` when ``window`` is a tuple, else ``x.ndim - 2``.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
from flax import linen as nn

from jaxcnn.functional.pool import (
    avg_pool1d,
    avg_pool2d,
    global_avg_pool,
    global_max_pool,
    max_pool1d,
    max_pool2d,
)

_FUNCS = {
    ("max", 1): max_pool1d,
    ("max", 2): max_pool2d,
    ("avg", 1): avg_pool1d,
    ("avg", 2): avg_pool2d,
}


class MaxPool(nn.Module):
    """Max over sliding windows, each channel on its own: ``(N, *S, C) -> (N, *S', C)``.

    Attributes:
      window: int or tuple (one entry per spatial axis).
      stride: int, tuple or ``None`` (= ``window``, as PyTorch).
      padding: ``"VALID"``, ``"SAME"``, an int or ``(low, high)`` pairs, at most ``window // 2``
        per side; padded positions are ``-inf``.

    ``__call__(x)``: ``x`` of shape ``(N, W, C)`` or ``(N, H, W, C)``. Returns each spatial size
    ``(size + low + high - window) // stride + 1`` (channels unchanged).

    Raises:
      ValueError / TypeError: an unsupported rank, a tuple ``window`` whose length does not
        match ``x``, and every error of :func:`jaxcnn.functional.max_pool2d`.
    """

    window: int | Sequence[int]
    stride: int | Sequence[int] | None = None
    padding: str | int | Sequence[int | tuple[int, int]] = 0

    @nn.compact
    def __call__(self, x) -> jax.Array:
        f = _pool_fn("max", self.window, x, type(self).__name__)
        return f(x, self.window, self.stride, self.padding)


class AvgPool(nn.Module):
    """Mean over sliding windows, each channel on its own: ``(N, *S, C) -> (N, *S', C)``.

    Attributes:
      window, stride, padding: as :class:`MaxPool` (padded positions are zeros).
      count_include_pad: ``True`` divides by the window size; ``False`` by the number of real
        elements under the window (as PyTorch).

    ``__call__(x)``: ``x`` of shape ``(N, W, C)`` or ``(N, H, W, C)``. Returns as :class:`MaxPool`.

    Raises:
      ValueError / TypeError: as :class:`MaxPool`.
    """

    window: int | Sequence[int]
    stride: int | Sequence[int] | None = None
    padding: str | int | Sequence[int | tuple[int, int]] = 0
    count_include_pad: bool = True

    @nn.compact
    def __call__(self, x) -> jax.Array:
        f = _pool_fn("avg", self.window, x, type(self).__name__)
        return f(x, self.window, self.stride, self.padding, self.count_include_pad)


class GlobalAvgPool(nn.Module):
    """Mean over every spatial axis: ``(N, ..., C) -> (N, C)``.

    ``__call__(x, mask=None)``: ``x`` of rank >= 3; ``mask`` optional bool ``x.shape[:-1]``
    (``True`` = a real position). Returns ``(N, C)``.

    Raises:
      ValueError / TypeError: as :func:`jaxcnn.functional.global_avg_pool`.
    """

    @nn.compact
    def __call__(self, x, mask=None) -> jax.Array:
        return global_avg_pool(x, mask)


class GlobalMaxPool(nn.Module):
    """Max over every spatial axis: ``(N, ..., C) -> (N, C)``.

    ``__call__(x, mask=None)``: as :class:`GlobalAvgPool`. Returns ``(N, C)``.

    Raises:
      ValueError / TypeError: as :func:`jaxcnn.functional.global_max_pool`.
    """

    @nn.compact
    def __call__(self, x, mask=None) -> jax.Array:
        return global_max_pool(x, mask)


def _pool_fn(kind: str, window, x, fn: str):
    """Pick the 1D or 2D function from ``window`` (a tuple) or else the rank of ``x``."""
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(
            f"{fn}: x must be an array (N, W, C) or (N, H, W, C), got {type(x).__name__}"
        )
    if isinstance(window, Sequence) and not isinstance(window, str):
        n = len(window)
        if len(shape) != n + 2:
            raise ValueError(
                f"{fn}: x must have rank {n + 2} for a {n}-axis window {tuple(window)}, "
                f"got shape {tuple(shape)}"
            )
    else:
        n = len(shape) - 2
    if (kind, n) not in _FUNCS:
        raise ValueError(
            f"{fn}: x must have rank 3 (N, W, C) or 4 (N, H, W, C), got shape {tuple(shape)}"
        )
    return _FUNCS[kind, n]
