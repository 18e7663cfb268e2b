"""Data augmentation as pure, jittable functions of a PRNG key.

Each example draws its own crop offset and flip from the key, so the same key always gives the
same batch, and ``jax.random.split`` per step gives fresh augmentations without any state.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

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


def random_erasing(
    key: jax.Array,
    images: jax.Array,
    probability: float | jax.Array = 0.5,
    scale: tuple[float, float] = (0.02, 0.4),
    ratio: tuple[float, float] = (0.3, 3.3),
) -> jax.Array:
    """Zero one random rectangle in each image with probability ``probability`` (Zhong et al.,
    "Random Erasing Data Augmentation", 2017; torchvision's ``RandomErasing`` with ``value=0``).

    The rectangle covers a fraction of the image drawn uniformly from ``scale``, with an aspect
    ratio (height / width) drawn log-uniformly from ``ratio``; its top-left corner is uniform over
    the positions where it fits. Where torchvision redraws a rectangle larger than the image (up
    to 10 times), its sides are clipped to the image here, so the function stays one fixed-shape
    computation. Zero is the mean of images normalised per channel (`jaxcnn.vision.normalize`).

    Args:
      key: a PRNG key.
      images: ``(N, H, W, C)`` NHWC.
      probability: the chance each image is erased, in ``[0, 1]`` (checked when it is a
        Python or NumPy number; a jax array, e.g. a traced schedule, is the caller's to keep
        in range).
      scale: ``(low, high)`` erased fraction of the image area, ``0 < low <= high <= 1``.
      ratio: ``(low, high)`` aspect ratio range, ``0 < low <= high``.

    Returns:
      ``(N, H, W, C)``, same dtype; all channels of a pixel are erased together.

    Raises:
      TypeError / ValueError: bad rank, ``probability`` outside ``[0, 1]``, or ``scale`` /
        ``ratio`` not ordered positive pairs.
    """
    # Checked here, before jit makes ``probability`` a tracer.
    _checks.rank(images, 4, "random_erasing", "images", "(N, H, W, C)")
    if isinstance(probability, (int, float, np.number)) and not 0 <= probability <= 1:
        raise ValueError(f"random_erasing: probability must be in [0, 1], got {probability!r}")
    for arg, (low, high), top in (("scale", scale, 1.0), ("ratio", ratio, float("inf"))):
        if not 0 < low <= high <= top:
            raise ValueError(
                f"random_erasing: {arg} must be (low, high) with 0 < low <= high"
                f"{' <= 1' if top == 1.0 else ''}, got {(low, high)}"
            )
    return _random_erasing(key, images, probability, scale=scale, ratio=ratio)


@functools.partial(jax.jit, static_argnames=("scale", "ratio"))
def _random_erasing(
    key: jax.Array,
    images: jax.Array,
    probability: float | jax.Array,
    *,
    scale: tuple[float, float],
    ratio: tuple[float, float],
) -> jax.Array:
    """`random_erasing` on checked arguments."""
    n, h, w, _ = images.shape
    keys = jax.random.split(key, 5)
    area = jax.random.uniform(keys[0], (n,), minval=scale[0], maxval=scale[1]) * (h * w)
    log_ratio = jax.random.uniform(
        keys[1], (n,), minval=jnp.log(ratio[0]), maxval=jnp.log(ratio[1])
    )
    aspect = jnp.exp(log_ratio)
    eh = jnp.clip(jnp.round(jnp.sqrt(area * aspect)), 1, h).astype(jnp.int32)
    ew = jnp.clip(jnp.round(jnp.sqrt(area / aspect)), 1, w).astype(jnp.int32)
    top_ = jnp.floor(jax.random.uniform(keys[2], (n,)) * (h - eh + 1)).astype(jnp.int32)
    left = jnp.floor(jax.random.uniform(keys[3], (n,)) * (w - ew + 1)).astype(jnp.int32)
    erase = jax.random.bernoulli(keys[4], probability, (n,))
    rows = jnp.arange(h)[None, :, None]
    cols = jnp.arange(w)[None, None, :]
    inside = (
        (rows >= top_[:, None, None]) & (rows < (top_ + eh)[:, None, None])
        & (cols >= left[:, None, None]) & (cols < (left + ew)[:, None, None])
    )  # fmt: skip
    mask = (inside & erase[:, None, None])[..., None]
    return jnp.where(mask, jnp.zeros((), images.dtype), images)


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
