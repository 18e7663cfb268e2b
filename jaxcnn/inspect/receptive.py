"""The receptive field of one unit: the input window it can see (closed form, from the layers'
kernel/stride/padding/dilation) and the pixels that actually move it (gradient), drawn on the input.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxcnn import _checks


def receptive_window(
    layers: Sequence[tuple[int, int, int, int]], unit: int, size: int | None = None
) -> tuple[int, int]:
    """Input interval ``[start, stop)`` seen by output index ``unit`` along one spatial axis.

    Walks back through the layers: an interval ``[a, b]`` of a layer's output comes from input
    ``[a*s - p, b*s - p + d*(k-1)]``. Pooling layers count as layers (kernel = window).

    Args:
      layers: ``(kernel, stride, low_padding, dilation)`` per layer, first layer first.
      unit: output index along the axis.
      size: the input length; when given the interval is clipped to ``[0, size)``.

    Returns:
      ``(start, stop)`` input indices (stop exclusive).

    Raises:
      ValueError: a non-positive kernel, stride or dilation, or a negative unit.
    """
    if unit < 0:
        raise ValueError(f"receptive_window: unit must be non-negative, got {unit}")
    a = b = unit
    for k, s, p, d in reversed(list(layers)):
        if min(k, s, d) < 1:
            raise ValueError(
                f"receptive_window: kernel, stride, dilation must be positive, got {(k, s, p, d)}"
            )
        a, b = a * s - p, b * s - p + d * (k - 1)
    if size is not None:
        a, b = max(a, 0), min(b, size - 1)
    return a, b + 1


def gradient_receptive_field(
    fn: Callable[[jax.Array], jax.Array], image: jax.Array, unit: tuple[int, int, int]
) -> np.ndarray:
    """``|d fn(image)[0, i, j, c] / d image|`` summed over channels: the effective receptive field.

    Args:
      fn: ``(1, H, W, C) -> (1, H', W', C')`` (e.g. the model truncated after a conv layer).
      image: ``(H, W, C)`` NHWC without the batch axis.
      unit: ``(i, j, c)`` in the output map.

    Returns:
      ``(H, W)`` float array; zero outside the pixels the unit depends on (for this input).

    Raises:
      ValueError: bad rank.
    """
    _checks.rank(image, 3, "gradient_receptive_field", "image", "(H, W, C)")
    i, j, c = unit
    grad = jax.grad(lambda x: fn(x[None])[0, i, j, c])(jnp.asarray(image, jnp.float32))
    return np.abs(np.asarray(grad)).sum(axis=-1)


def save_receptive_field(
    image,
    rows: tuple[int, int],
    cols: tuple[int, int],
    path: str | os.PathLike,
    *,
    gradient=None,
    title: str | None = None,
) -> None:
    """Draw the window ``rows x cols`` (``[start, stop)`` each) on ``image`` ``(H, W, C)``; with
    ``gradient`` ``(H, W)`` a second panel shows the effective receptive field."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    panels = 1 if gradient is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(2.6 * panels, 2.8))
    axes = np.atleast_1d(axes)
    image = np.asarray(image)
    for ax in axes:
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        ax.add_patch(
            patches.Rectangle(
                (cols[0] - 0.5, rows[0] - 0.5),
                cols[1] - cols[0],
                rows[1] - rows[0],
                fill=False,
                edgecolor="red",
                linewidth=1.5,
            )
        )
        ax.set_axis_off()
    axes[0].set_title(title or "receptive field", fontsize=8)
    if gradient is not None:
        axes[1].imshow(np.asarray(gradient), cmap="hot", alpha=0.6)
        axes[1].set_title("|gradient| (effective)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
