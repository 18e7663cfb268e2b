"""Atomic figure writes: a killed or failed save never leaves a truncated image at ``path``.

Shared by the inspect figures and the training curves (`jaxcnn.train.results.plot_curves`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from jaxcnn import _durable
from jaxcnn._extras import optional_import

if TYPE_CHECKING:  # matplotlib is the plots extra: imported only when a figure is drawn
    from matplotlib.figure import Figure


def save_figure(fig, path: str | os.PathLike, *, dpi: int) -> None:
    """``fig.savefig(path)`` durably (`jaxcnn._durable.atomic_write`: temp file, fsync, rename).

    The format comes from ``path``'s extension, as with ``savefig``; a name without one gets
    ``.png`` appended, as ``savefig`` does with its default format.
    """
    path = Path(path)
    fmt = path.suffix[1:].lower() or "png"
    if not path.suffix:
        path = path.with_name(f"{path.name}.{fmt}")
    _durable.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt))


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A ``matplotlib.figure.Figure`` of ``figsize`` inches, not registered with pyplot.

    Drawing on a bare ``Figure`` and saving it with ``fig.savefig`` needs no GUI backend, so
    nothing here calls ``matplotlib.use`` or touches pyplot's state: a notebook's backend and its
    open figures stay as they were, and the figure is freed with its last reference.

    Raises:
      ImportError: matplotlib is not installed (names the ``plots`` extra).
    """
    figure = optional_import("matplotlib.figure", "drawing a figure", "plots")
    return figure.Figure(figsize=figsize)
