"""Feature cache entries: safe file names, content fingerprints, validated reads, atomic writes.

An entry is ``cache_dir/<name>.npz`` (no pickle) for one utterance, with arrays ``features``
float32 ``(T, D)``, ``labels`` int32 ``(T,)`` (``-1`` where unlabelled; all ``-1`` without an
alignment), ``dim``, ``key`` and ``fingerprint``. The fingerprint is the SHA-256 of everything the
entry depends on: the audio file's bytes, the alignment file's bytes (or its absence), the
feature config, the phone mapping and :data:`VERSION`; an entry is reused only when it matches, so
an edited ``.phn`` re-labels and a changed config recomputes.

File names come from :func:`entry_name`: any key (``speaker/utt``, ``../x``, unicode) becomes a
plain file name inside the cache folder, never a path out of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

#: Bumped when the entry layout or the labelling changes, so old entries are recomputed.
VERSION = 2


def entry_name(key: str) -> str:
    """The ``.npz`` file name of ``key``: a readable part and a hash of the whole key.

    Characters other than ASCII letters, digits, ``.``, ``_`` and ``-`` become ``_``; leading
    dots are dropped (no ``..`` or hidden files); the readable part is cut to 80 characters; the
    16-hex-digit SHA-256 prefix of the key keeps different keys apart.

    Raises:
      TypeError: ``key`` is not a str.
    """
    if not isinstance(key, str):
        raise TypeError(f"extract: item key must be a str, got {type(key).__name__} {key!r}")
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", key)[:80].lstrip(".") or "item"
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{readable}.{digest}.npz"


def fingerprint(audio_path: str | os.PathLike, phn_path, settings: str) -> str:
    """SHA-256 (hex) of the audio bytes, the alignment bytes (or "none") and ``settings``.

    Raises:
      OSError: a file cannot be read.
    """
    h = hashlib.sha256(f"v{VERSION}\0{settings}\0".encode())
    h.update(_file_digest(audio_path))
    h.update(_file_digest(phn_path) if phn_path else b"no alignment")
    return h.hexdigest()


def settings_text(config: Any, source_fingerprint: str) -> str:
    """The JSON of a feature config (a dataclass) plus the phone mapping's fingerprint."""
    import dataclasses

    return json.dumps(
        {"config": dataclasses.asdict(config), "phones": source_fingerprint}, sort_keys=True
    )


def read_entry(path: str | os.PathLike, wanted: str, dim: int, num_classes: int) -> str | None:
    """Why the entry at ``path`` cannot be reused (None: it is valid and current).

    Checks that the file loads, holds every array, matches the fingerprint ``wanted``, and has
    finite float32 ``(T >= 1, dim)`` features with int ``(T,)`` labels in ``[-1, num_classes)``.
    Never raises for a bad file: truncated, garbled, zeroed or empty files give a reason.

    Returns:
      None, "stale" (a different fingerprint: the inputs changed), "missing", or a description
      of the damage.
    """
    if not os.path.exists(path):
        return "missing"
    try:
        with np.load(path, allow_pickle=False) as z:
            absent = {"features", "labels", "fingerprint"} - set(z.files)
            if absent:
                return f"missing arrays {sorted(absent)}"
            if str(z["fingerprint"]) != wanted:
                return "stale"
            feats, labels = z["features"], z["labels"]
    except Exception as e:  # noqa: BLE001 - any damage (zip, zlib, header, EOF) means recompute
        return f"unreadable ({type(e).__name__}: {e})"
    if feats.ndim != 2 or feats.shape[0] < 1 or feats.shape[1] != dim or feats.dtype != np.float32:
        return f"features of shape {feats.shape} {feats.dtype}, wanted (T, {dim}) float32"
    if not np.all(np.isfinite(feats)):
        return "non-finite features"
    if labels.shape != (feats.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        return f"labels of shape {labels.shape} {labels.dtype}, wanted ({feats.shape[0]},) int"
    if labels.size and (labels.min() < -1 or labels.max() >= num_classes):
        return f"labels outside [-1, {num_classes})"
    return None


def write_entry(path: str | os.PathLike, key: str, fp: str, feats, labels) -> None:
    """Save an entry atomically (temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                features=np.asarray(feats, np.float32),
                labels=np.asarray(labels, np.int32),
                dim=np.int64(np.shape(feats)[1]),
                key=np.str_(key),
                fingerprint=np.str_(fp),
            )
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _file_digest(path: str | os.PathLike) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()
