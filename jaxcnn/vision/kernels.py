"""Hand-made kernels from the notes: Sobel edges and the solid-5x5-box detector.

All convolutions here are cross-correlations (the kernel is not flipped), as in the notes'
worked example, with "SAME" zero padding so every output pixel sits on its input pixel.

Sign conventions (for a bright object on a dark background):
  * H (horizontal edges, kernel rows ``[1 2 1] / [0 0 0] / [-1 -2 -1]``) is negative along a top
    edge and positive along a bottom edge;
  * V (vertical edges, columns ``[-1 -2 -1]^T / 0 / [1 2 1]^T``) is positive along a left edge and
    negative along a right edge.

The box detector's H kernel (top row -1, bottom row +1) and V kernel (left column +1, right
column -1) therefore add up all four edges of a box whose sides are 4 pixels apart: a solid 5x5
box. Other sizes cannot line up all four sides at full length in one window: 3x3 boxes score
2/3 of a 5x5 box, 4x4 boxes 5/6, 6x6 and 7x7 boxes 38/72 (see ``docs/images.md``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxcnn import _checks
from jaxcnn.functional.conv import conv2d

SOBEL_H = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], np.float32)
SOBEL_V = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
BOX_H = np.zeros((5, 5), np.float32)
BOX_H[0], BOX_H[4] = -1.0, 1.0
BOX_V = np.zeros((5, 5), np.float32)
BOX_V[:, 0], BOX_V[:, 4] = 1.0, -1.0
UNIT_BOX_RESPONSE = 72.0  # 4 edges x (3+4+4+4+3): Sobel sum along a 5-pixel side; tested


def sobel_edges(images: jax.Array, border: str = "zero") -> jax.Array:
    """Horizontal and vertical Sobel edge channels.

    Args:
      images: ``(N, H, W, 1)`` NHWC grayscale, floating.
      border: ``"zero"`` pads with zeros (the notes' example; a bright image then shows an edge
        along its frame) or ``"edge"`` repeats the border pixels (no edge at the frame).

    Returns:
      ``(N, H, W, 2)``: channel 0 is H (horizontal edges), channel 1 is V (vertical edges).

    Raises:
      TypeError / ValueError: not a floating ``(N, H, W, 1)`` array, or an unknown ``border``.
    """
    _gray(images, "sobel_edges")
    border = _checks.one_of(border, ("ZERO", "EDGE"), "sobel_edges", "border")
    kernel = jnp.stack([SOBEL_H, SOBEL_V], axis=-1)[:, :, None, :]  # HWIO (3, 3, 1, 2)
    if border == "EDGE":
        images = jnp.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        return _correlate(images, kernel.astype(images.dtype), "VALID")
    return _correlate(images, kernel.astype(images.dtype))


def edge_magnitude(edges: jax.Array, kind: str = "l2") -> jax.Array:
    """Gradient magnitude from the two edge channels.

    Args:
      edges: ``(N, H, W, 2)`` from ``sobel_edges``.
      kind: ``"l2"`` for ``sqrt(H^2 + V^2)``, ``"l1"`` for ``|H| + |V|`` (cheaper, slightly larger
        on diagonals).

    Returns:
      ``(N, H, W, 1)``.

    Raises:
      ValueError: wrong shape or unknown ``kind``.
    """
    shape = _checks.rank(edges, 4, "edge_magnitude", "edges", "(N, H, W, 2)")
    if shape[3] != 2:
        raise ValueError(f"edge_magnitude: edges must have 2 channels (H, V), got shape {shape}")
    kind = _checks.one_of(kind, ("L1", "L2"), "edge_magnitude", "kind")
    h, v = edges[..., :1], edges[..., 1:]
    return jnp.abs(h) + jnp.abs(v) if kind == "L1" else jnp.sqrt(h * h + v * v)


def box_response(edges: jax.Array) -> jax.Array:
    """The notes' box detector convolved on the (H, V) edge channels, summed over both.

    Args:
      edges: ``(N, H, W, 2)`` from ``sobel_edges``.

    Returns:
      ``(N, H, W, 1)``: large positive at the centre of a bright solid 5x5 box, large negative at a
      dark one.

    Raises:
      ValueError: wrong shape.
    """
    shape = _checks.rank(edges, 4, "box_response", "edges", "(N, H, W, 2)")
    if shape[3] != 2:
        raise ValueError(f"box_response: edges must have 2 channels (H, V), got shape {shape}")
    kernel = jnp.stack([BOX_H, BOX_V], axis=-1)[:, :, :, None]  # HWIO (5, 5, 2, 1)
    return _correlate(edges, kernel.astype(edges.dtype))


def box_score(images: jax.Array) -> jax.Array:
    """Box response divided by that of an ideal unit-contrast 5x5 box (so a perfect box scores 1).

    Args:
      images: ``(N, H, W, 1)`` NHWC grayscale, floating (contrast measured in its units).

    Returns:
      ``(N, H, W, 1)``: +1 at the centre of a bright 5x5 box of contrast 1, -1 for a dark one.
      Edges use ``border="edge"`` so the frame of the image is not mistaken for a box side.
    """
    return box_response(sobel_edges(images, "edge")) / UNIT_BOX_RESPONSE


def detect_boxes(
    images: jax.Array, threshold: float = 0.92, contrast: ArrayLike | None = None
) -> jax.Array:
    """Centres where ``|box_score| >= threshold * contrast``.

    Args:
      images: ``(N, H, W, 1)`` NHWC grayscale, floating.
      threshold: fraction of a perfect box's score, in ``(0, 1]``. 3x3 and 7x7 boxes reach at
        most 2/3, 4x4 boxes 5/6, a 5x5 box off-centre by one pixel 3/4; the default sits
        halfway between 5/6 and 1 so mild noise does not flip the answer.
      contrast: the box-minus-background difference looked for (a float or ``(N,)``); default
        the value range (max - min) of each image, i.e. boxes of full contrast.

    Returns:
      ``(N, H, W)`` bool.

    Raises:
      TypeError / ValueError: not a floating ``(N, H, W, 1)`` array.
      ValueError: threshold outside ``(0, 1]``, or ``contrast`` neither a scalar nor ``(N,)``.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"detect_boxes: threshold must be in (0, 1], got {threshold!r}")
    _gray(images, "detect_boxes")
    if contrast is not None and np.shape(contrast) not in ((), images.shape[:1]):
        raise ValueError(
            f"detect_boxes: contrast must be a scalar or have shape ({images.shape[0]},), "
            f"got shape {np.shape(contrast)}"
        )
    score = box_score(images)[..., 0]
    if contrast is None:
        contrast = jnp.max(images, axis=(1, 2, 3)) - jnp.min(images, axis=(1, 2, 3))
    contrast = jnp.broadcast_to(jnp.abs(jnp.asarray(contrast, score.dtype)), score.shape[:1])
    return jnp.abs(score) >= threshold * contrast.reshape(-1, 1, 1)


def _gray(images: jax.Array, fn: str) -> None:
    shape = _checks.rank(images, 4, fn, "images", "(N, H, W, 1)")
    _checks.floating(images, fn, "images")
    if shape[3] != 1:
        raise ValueError(f"{fn}: images must have 1 channel (grayscale), got shape {shape}")


def _correlate(x: jax.Array, kernel: jax.Array, padding: str = "SAME") -> jax.Array:
    return conv2d(x, kernel, padding=padding)  # cross-correlation (flip=False), as the notes
