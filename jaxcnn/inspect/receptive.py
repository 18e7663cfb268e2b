"""The receptive field of one unit: the input window it can see (closed form, from
``jaxcnn.arith``) and the pixels that actually move it (gradient), drawn on the input."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxcnn import _checks
from jaxcnn._figure import new_figure, save_figure
from jaxcnn.arith.receptive import Window, receptive_fields


def receptive_window(
    windows: Sequence[Window], unit: Sequence[int], shape: Sequence[int] | None = None
) -> tuple[tuple[int, int], ...]:
    """Input window ``[start, stop)`` per spatial axis seen by one unit of the last layer.

    The closed form is ``jaxcnn.arith.receptive_fields``; this adds the clipping to the image
    and the half-open intervals that slicing and drawing want.

    Args:
      windows: the conv / pool layers up to the unit's layer (``jaxcnn.arith.Window``).
      unit: the unit's index per spatial axis, e.g. ``(row, col)``.
      shape: the input's spatial shape; when given the window is clipped to it.

    Returns:
      ``((start, stop), ...)`` per axis, stop exclusive.

    Raises:
      TypeError: ``unit`` not a sequence of ints (a float index gave float bounds).
      ValueError: a negative unit index, ``shape`` not one size per axis of ``unit`` (and
        ``receptive_fields``'s errors for bad windows).
    """
    unit = _checks.ntuple(unit, None, "receptive_window", "unit")
    if any(u < 0 for u in unit):
        raise ValueError(f"receptive_window: unit must be non-negative, got {tuple(unit)}")
    if shape is not None and len(shape) != len(unit):
        raise ValueError(
            f"receptive_window: shape must have one size per axis of unit ({len(unit)}), "
            f"got {tuple(shape)}"
        )
    field = receptive_fields(windows, ndim=len(unit))[-1]
    spans = field.span(tuple(unit))
    if shape is not None:
        spans = tuple((max(a, 0), min(b, n - 1)) for (a, b), n in zip(spans, shape, strict=True))
    return tuple((a, b + 1) for a, b in spans)


def gradient_receptive_field(
    fn: Callable[[jax.Array], jax.Array], image: jax.Array, unit: Sequence[int]
) -> np.ndarray:
    """``|d fn(image)[0, i, j, c] / d image|`` summed over channels: the effective receptive field.

    Args:
      fn: ``(1, H, W, C) -> (1, H', W', C')`` (e.g. the model truncated after a conv layer).
      image: ``(H, W, C)`` NHWC without the batch axis.
      unit: ``(i, j, c)`` in the output map.

    Returns:
      ``(H, W)`` float array; zero outside the pixels the unit depends on (for this input).

    Raises:
      TypeError: ``unit`` not three ints.
      ValueError: bad rank, ``fn`` not returning ``(1, H', W', C')``, or ``unit`` outside
        ``[0, H') x [0, W') x [0, C')``.
    """
    fn_name = "gradient_receptive_field"
    _checks.rank(image, 3, fn_name, "image", "(H, W, C)")
    unit = _checks.ntuple(unit, 3, fn_name, "unit")
    image = jnp.asarray(image, jnp.float32)
    out = jax.eval_shape(fn, image[None])
    if len(out.shape) != 4 or out.shape[0] != 1:
        raise ValueError(
            f"{fn_name}: fn must map (1, H, W, C) to (1, H', W', C'), got shape {out.shape}"
        )
    # JAX clamps an out-of-range index: the gradient would silently be another unit's.
    if not all(0 <= u < n for u, n in zip(unit, out.shape[1:], strict=True)):
        raise ValueError(
            f"{fn_name}: unit must index the output map {out.shape[1:]} (i, j, c), got {unit}"
        )
    i, j, c = unit
    grad = jax.grad(lambda x: fn(x[None])[0, i, j, c])(image)
    return np.abs(np.asarray(grad)).sum(axis=-1)


def save_receptive_field(
    image: ArrayLike,
    rows: tuple[int, int],
    cols: tuple[int, int],
    path: str | os.PathLike,
    *,
    gradient: ArrayLike | None = None,
    title: str | None = None,
) -> None:
    """Draw the window ``rows x cols`` (``[start, stop)`` each) on ``image`` ``(H, W, C)``; with
    ``gradient`` ``(H, W)`` a second panel shows the effective receptive field."""
    panels = 1 if gradient is None else 2
    fig = new_figure((2.6 * panels, 2.8))  # first: names the plots extra if matplotlib is missing
    import matplotlib.patches as patches

    axes = fig.subplots(1, panels)
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
    save_figure(fig, path, dpi=90)  # atomic: a killed save leaves no broken PNG
