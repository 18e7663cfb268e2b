"""Learned filters as one image: a grid of kernels, each rescaled to its own range."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from jax.typing import ArrayLike

from jaxcnn import _checks
from jaxcnn._figure import new_figure, save_figure


def first_conv_kernel(params: Mapping[str, Any]) -> tuple[str, np.ndarray]:
    """The first rank-4 ``kernel`` in a parameter tree, in module-creation order.

    Flax keeps dicts in the order modules were created, which for a sequential model is the order
    of the layers; ``jax.tree`` would sort the keys and put ``layers_10`` before ``layers_2``.

    Args:
      params: the ``"params"`` collection (nested dicts).

    Returns:
      ``(path "a/b/kernel", kernel (KH, KW, C_in, C_out) HWIO)``.

    Raises:
      ValueError: no rank-4 kernel in the tree.
    """
    found = _first_kernel(params, ())
    if found is None:
        raise ValueError("first_conv_kernel: params must contain a rank-4 'kernel', got none")
    path, kernel = found
    return "/".join(path), np.asarray(kernel)


def filter_grid(kernel: ArrayLike, *, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile the ``C_out`` filters of an HWIO kernel into one picture.

    Each filter is rescaled to ``[0, 1]`` by its own min and max, so weak and strong filters are
    both visible (the colour scale is per filter, not shared).

    Args:
      kernel: ``(KH, KW, C_in, C_out)`` HWIO with ``C_in`` 1 (grayscale) or 3 (RGB).
      columns: filters per row; default ``ceil(sqrt(C_out))``.
      pad: pixels between filters (filled with 1, white).

    Returns:
      ``(rows * (KH + pad) - pad, columns * (KW + pad) - pad, C_in)`` float array in ``[0, 1]``.

    Raises:
      TypeError: ``columns`` or ``pad`` not an int.
      ValueError: wrong rank, ``C_in`` not 1 or 3, ``columns`` < 1 or ``pad`` < 0.
    """
    kh, kw, c_in, c_out = _checks.rank(kernel, 4, "filter_grid", "kernel", "(KH, KW, C_in, C_out)")
    if c_in not in (1, 3):
        raise ValueError(f"filter_grid: kernel must have C_in 1 or 3, got shape {np.shape(kernel)}")
    (pad,) = _checks.non_negative_ints("filter_grid", pad=pad)
    if columns is not None:
        columns = _checks.positive_int(columns, "filter_grid", "columns")
    k = np.asarray(kernel, np.float64)
    lo = k.min(axis=(0, 1, 2), keepdims=True)
    span = k.max(axis=(0, 1, 2), keepdims=True) - lo
    k = (k - lo) / np.where(span > 0, span, 1.0)  # a constant filter shows as 0 (black)
    columns = columns or math.ceil(math.sqrt(c_out))
    rows = math.ceil(c_out / columns)
    grid = np.ones((rows * (kh + pad) - pad, columns * (kw + pad) - pad, c_in))
    for f in range(c_out):
        r, c = divmod(f, columns)
        grid[r * (kh + pad) : r * (kh + pad) + kh, c * (kw + pad) : c * (kw + pad) + kw] = k[..., f]
    return grid


def save_filter_grid(
    kernel: ArrayLike, path: str | os.PathLike, *, title: str | None = None
) -> None:
    """Write ``filter_grid(kernel)`` as a PNG (matplotlib, no display needed)."""
    grid = filter_grid(kernel)
    fig = new_figure((4, 4 * grid.shape[0] / grid.shape[1] + 0.4))
    ax = fig.subplots()
    ax.imshow(grid[..., 0] if grid.shape[2] == 1 else grid, cmap="gray", interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)  # atomic: a killed save leaves no broken PNG


def _first_kernel(tree, path):
    if isinstance(tree, dict) or hasattr(tree, "items"):
        for key, value in tree.items():
            found = _first_kernel(value, (*path, str(key)))
            if found is not None:
                return found
        return None
    if path and path[-1] == "kernel" and np.ndim(tree) == 4:
        return path, tree
    return None
