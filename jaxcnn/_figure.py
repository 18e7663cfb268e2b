"""Atomic figure writes: a killed or failed save never leaves a truncated image at ``path``.

Shared by the inspect figures and the training curves (`jaxcnn.train.results.plot_curves`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def save_figure(fig, path: str | os.PathLike, *, dpi: int) -> None:
    """``fig.savefig(path)`` through a temp file in the same folder and ``os.replace``.

    The format comes from ``path``'s extension, as with ``savefig``; a name without one gets
    ``.png`` appended, as ``savefig`` does with its default format.
    """
    path = Path(path)
    fmt = path.suffix[1:].lower() or "png"
    if not path.suffix:
        path = path.with_name(f"{path.name}.{fmt}")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, format=fmt)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
