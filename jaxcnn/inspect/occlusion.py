"""Occlusion sensitivity (Zeiler & Fergus): how much the true class's probability drops when a
patch of the image is greyed out, for every patch position at once (``vmap``, no Python loop)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxcnn import _checks


def occlusion_map(
    logits_fn: Callable[[jax.Array], jax.Array],
    image: jax.Array,
    label: int,
    *,
    patch: int = 5,
    stride: int = 1,
    fill: float = 0.0,
    batch_size: int = 256,
) -> jax.Array:
    """Drop in ``p(label)`` when a ``patch x patch`` square centred on each position is occluded.

    Args:
      logits_fn: ``(B, H, W, C) -> (B, num_classes)`` logits (e.g. a jitted ``model.apply``).
      image: ``(H, W, C)`` NHWC without the batch axis.
      label: the class whose probability is tracked, an int in ``[0, num_classes)``.
      patch: side of the square (odd sizes centre exactly on a pixel).
      stride: distance between patch centres; centres are ``0, stride, 2*stride, ...`` on each axis.
      fill: the value written into the patch (0 = the mean of normalised data).
      batch_size: occluded images per forward pass (``jax.lax.map`` over ``vmap`` chunks).

    Returns:
      ``(ceil(H / stride), ceil(W / stride))`` float32: ``p(label | image) - p(label | occluded)``;
      positive where hiding the patch hurts the prediction.

    Raises:
      TypeError: ``label`` or ``batch_size`` not an int.
      ValueError: bad rank, patch, stride or batch_size, ``logits_fn`` not returning
        ``(1, num_classes)`` for one image, or ``label`` outside ``[0, num_classes)``.
    """
    h, w, _ = _checks.rank(image, 3, "occlusion_map", "image", "(H, W, C)")
    (patch,) = _checks.positive(
        _checks.ntuple(patch, 1, "occlusion_map", "patch"), "occlusion_map", "patch"
    )
    (stride,) = _checks.positive(
        _checks.ntuple(stride, 1, "occlusion_map", "stride"), "occlusion_map", "stride"
    )
    batch_size = _checks.positive_int(batch_size, "occlusion_map", "batch_size")
    label = _label(label)
    image = jnp.asarray(image)
    base_logits = logits_fn(image[None])
    if base_logits.ndim != 2 or base_logits.shape[0] != 1:
        raise ValueError(
            f"occlusion_map: logits_fn must map (1, H, W, C) to (1, num_classes), "
            f"got shape {tuple(base_logits.shape)}"
        )
    # JAX clamps an out-of-range index, which would silently track another class.
    if not 0 <= label < base_logits.shape[1]:
        raise ValueError(
            f"occlusion_map: label must be in [0, {base_logits.shape[1]}), got {label}"
        )
    rows, cols = jnp.arange(0, h, stride), jnp.arange(0, w, stride)
    centres = jnp.stack(jnp.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2)
    ii = jnp.arange(h).reshape(h, 1, 1)
    jj = jnp.arange(w).reshape(1, w, 1)
    low = patch // 2

    def occluded_prob(centre: jax.Array) -> jax.Array:
        inside = (
            (ii >= centre[0] - low)
            & (ii < centre[0] - low + patch)
            & (jj >= centre[1] - low)
            & (jj < centre[1] - low + patch)
        )
        occluded = jnp.where(inside, jnp.asarray(fill, image.dtype), image)
        return jax.nn.softmax(logits_fn(occluded[None]), axis=-1)[0, label]

    base = jax.nn.softmax(base_logits, axis=-1)[0, label]
    # lax.map with batch_size vmaps chunks of positions: bounded memory, no per-position loop.
    probs = jax.lax.map(occluded_prob, centres, batch_size=min(batch_size, centres.shape[0]))
    return (base - probs).reshape(len(rows), len(cols))


def _label(label: Any) -> int:
    """``label`` as a Python int: ints, NumPy and concrete JAX integer scalars; not bool/float."""
    try:
        if isinstance(label, bool):
            raise TypeError
        return operator.index(label)
    except TypeError:
        raise TypeError(
            f"occlusion_map: label must be an int, got {type(label).__name__} {label!r}"
        ) from None
