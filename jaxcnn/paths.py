"""Where jaxcnn keeps data it makes (corpora, feature caches, tuning results).

Never inside the installed package: ``$JAXCNN_DATA`` when it is set, else the platform's
per-user cache folder (``~/.cache/jaxcnn`` on Linux, as ``platformdirs`` defines it). Nothing
here creates a folder; the writer that needs one creates it.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

#: The environment variable that overrides the data folder.
DATA_ENV = "JAXCNN_DATA"


def data_home(*parts: str) -> Path:
    """The folder jaxcnn's generated data lives in, joined with ``parts``.

    Args:
      *parts: relative path components below the data folder (e.g. ``"speech"``).

    Returns:
      ``$JAXCNN_DATA / parts`` if the variable is set and non-empty, else
      ``platformdirs.user_cache_dir("jaxcnn") / parts``. An absolute path; not created.

    Raises:
      ValueError: a part is absolute or contains ``..``, so the result would leave the folder.
    """
    for part in parts:
        if not isinstance(part, str) or Path(part).is_absolute() or ".." in Path(part).parts:
            raise ValueError(f"data_home: parts must be relative paths inside it, got {part!r}")
    root = os.environ.get(DATA_ENV) or platformdirs.user_cache_dir("jaxcnn")
    return Path(root).expanduser().resolve().joinpath(*parts)
