"""Data augmentation as pure, jittable functions of a PRNG key.

Each example draws its own crop offset and flip from the key, so the same key always gives the
same batch, and ``jax.random.split`` per step gives fresh augmentations without any state.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxcnn import _checks


@functools.partial(jax.jit, static_argnames=("padding",))
def random_crop(key: jax.Array, images: jax.Array, padding: int = 4) -> jax.Array:
    """Zero-pad every image by ``padding`` on each side, then crop back a random ``H x W`` window.

    Args:
      key: a PRNG key.
      images: ``(N, H, W, C)`` NHWC.
      padding: pixels of zero padding per side (int >= 0); offsets uniform in ``[0, 2*padding]``.

    Returns:
      ``(N, H, W, C)``, same dtype.

    Raises:
      TypeError / ValueError: bad rank or padding.
    """
    n, h, w, c = _checks.rank(images, 4, "random_crop", "images", "(N, H, W, C)")
    (padding,) = _checks.non_negative(
        _checks.ntuple(padding, 1, "random_crop", "padding"), "random_crop", "padding"
    )
    padded = jnp.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    offsets = jax.random.randint(key, (n, 2), 0, 2 * padding + 1)

    def crop(image: jax.Array, offset: jax.Array) -> jax.Array:
        return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, c))

    return jax.vmap(crop)(padded, offsets)


@jax.jit
def random_flip(key: jax.Array, images: jax.Array) -> jax.Array:
    """Mirror each image left-right with probability 1/2.

    Args:
      key: a PRNG key.
      images: ``(N, H, W, C)`` NHWC.

    Returns:
      ``(N, H, W, C)``, same dtype.

    Raises:
      TypeError / ValueError: bad rank.
    """
    n = _checks.rank(images, 4, "random_flip", "images", "(N, H, W, C)")[0]
    flip = jax.random.bernoulli(key, 0.5, (n,)).reshape(n, 1, 1, 1)
    return jnp.where(flip, images[:, :, ::-1, :], images)


def augment_batch(key: jax.Array, batch: dict, *, padding: int = 4, flip: bool = True) -> dict:
    """Random crop (and flip) of ``batch["x"]``; every other entry (labels, weights) unchanged.

    Args:
      key: a PRNG key.
      batch: a dict with ``"x"`` ``(N, H, W, C)``.
      padding: crop padding; 0 skips the crop.
      flip: whether to add random horizontal flips.

    Returns:
      A new dict with the same keys and shapes.

    Raises:
      ValueError: ``batch`` has no ``"x"``, or bad shapes.
    """
    if not isinstance(batch, dict) or "x" not in batch:
        raise ValueError(
            f"augment_batch: batch must be a dict with 'x', got {type(batch).__name__}"
        )
    crop_key, flip_key = jax.random.split(key)
    x = batch["x"]
    if padding:
        x = random_crop(crop_key, x, padding)
    if flip:
        x = random_flip(flip_key, x)
    return {**batch, "x": x}
