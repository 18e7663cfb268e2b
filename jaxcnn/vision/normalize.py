"""Per-channel normalisation of NHWC images."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxcnn import _checks


def channel_stats(images: ArrayLike, *, fn: str = "channel_stats") -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of every channel over the batch and both spatial axes.

    Args:
      images: ``(N, H, W, C)`` NHWC, floating.

    Returns:
      ``(mean (C,), std (C,))`` float32; a constant channel gets std 1 so dividing is safe.

    Raises:
      TypeError / ValueError: not a floating rank-4 array.
    """
    _checks.rank(images, 4, fn, "images", "(N, H, W, C)")
    _checks.floating(images, fn, "images")
    x = np.asarray(images, np.float64)  # float64 sums: 60k images in float32 lose digits
    mean = x.mean(axis=(0, 1, 2))
    std = x.std(axis=(0, 1, 2))
    std = np.where(std > 0, std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def normalize(images: jax.Array, mean: ArrayLike, std: ArrayLike) -> jax.Array:
    """``(images - mean) / std`` per channel.

    Args:
      images: ``(N, H, W, C)`` NHWC floating.
      mean, std: ``(C,)`` (from ``channel_stats`` of the *training* set).

    Returns:
      ``(N, H, W, C)`` array of the same dtype.

    Raises:
      TypeError: ``images`` not floating.
      ValueError: wrong rank, mean/std not of shape ``(C,)``, or a (concrete) ``std`` that is
        not positive and finite.
    """
    shape = _checks.rank(images, 4, "normalize", "images", "(N, H, W, C)")
    _checks.floating(images, "normalize", "images")
    for name, v in (("mean", mean), ("std", std)):
        if np.shape(v) != (shape[3],):
            raise ValueError(f"normalize: {name} must have shape ({shape[3]},), got {np.shape(v)}")
    # A zero std made the channel inf/NaN silently. Traced values (under jit) cannot be checked.
    if not isinstance(std, jax.core.Tracer):
        s = np.asarray(std, np.float64)
        if not np.all(np.isfinite(s) & (s > 0)):
            raise ValueError(f"normalize: std must be positive and finite, got {s.tolist()}")
    mean = jnp.asarray(mean, images.dtype).reshape(1, 1, 1, -1)
    std = jnp.asarray(std, images.dtype).reshape(1, 1, 1, -1)
    return (images - mean) / std
