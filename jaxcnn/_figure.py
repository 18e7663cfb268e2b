"""Atomic figure writes: a killed or failed save never leaves a truncated image at ``path``.

Shared by the inspect figures and the training curves (`jaxcnn.train.results.plot_curves`).
"""

from __future__ import annotations

import os
from pathlib import Path

from jaxcnn import _durable


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
