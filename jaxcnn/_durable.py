"""Durable file writes and readers that say which file is bad.

Every file jaxcnn writes (results, metrics, plots, checkpoint manifests, caches, experiment
JSON) goes through `atomic_write`: a temp file in the same folder, fsync, rename over the
target, fsync the folder. A killed or failed write leaves the old file (or none), never a
truncated one; the temp file is removed. The file's mode follows the process umask
(``0o666 & ~umask``, as ``open`` gives) instead of ``mkstemp``'s 0600, so a shared workdir
stays readable by whoever may read the rest of it.

JSON is strict: NaN and infinities are not JSON, so they are written as ``null`` with the
reason beside them (``"<key>_nonfinite": "nan"``), and `read_json` names the file and says
what to do when it does not parse.
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path


class CorruptFileError(ValueError):
    """A file jaxcnn reads back does not parse; the message names it and what to do."""


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Make ``path`` by calling ``write(tmp_path)``, then fsync and rename it into place.

    Args:
      path: the file to (re)place; its folder is created if missing.
      write: writes the whole content to the temp path it is given (e.g. ``savefig``).

    Returns:
      ``path`` as a `Path`.

    Raises:
      OSError: the write failed (``ENOSPC`` for a full disk); the message names ``path``,
        the temp file is removed and an earlier ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        os.close(fd)
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as e:
        _unlink(tmp)
        if e.filename is not None and str(path) in str(e.filename):
            raise
        raise OSError(e.errno, f"cannot write {path}: {e.strerror or e}", str(path)) from e
    except BaseException:
        _unlink(tmp)
        raise
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` durably (see `atomic_write`)."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    return atomic_write(path, write)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` durably (see `atomic_write`)."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as strict JSON (see `strict_json`) durably.

    Raises:
      TypeError: ``obj`` holds something that is not JSON-able (NumPy values are converted).
    """
    return write_text(path, dumps(obj, indent=indent) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable) -> Path:
    """Write one strict JSON object per line; the whole file is replaced durably."""
    return write_text(path, "".join(dumps(r, indent=None) + "\n" for r in rows))


def dumps(obj, *, indent: int | None = 2) -> str:
    """``obj`` as strict JSON text: non-finite floats become ``null`` with a reason beside."""
    return json.dumps(strict_json(obj), indent=indent, allow_nan=False, default=_jsonable)


def strict_json(obj):
    """A copy of ``obj`` with every NaN / +-inf float replaced by None.

    In a dict, a key whose value was (or held) a non-finite number gets a sibling
    ``"<key>_nonfinite"`` naming what it was: ``"nan"``, ``"inf"``, ``"-inf"`` for a number,
    or ``"nan at [3, 7]"`` for positions in a list. NumPy scalars and arrays become Python
    values first.
    """
    return _clean(obj)[0]


def read_json(path: str | os.PathLike, *, fix: str = "delete it to rebuild it"):
    """Parse the JSON file at ``path``.

    Raises:
      FileNotFoundError: no such file (named).
      CorruptFileError: the file is not UTF-8 JSON; the message names it, says where it
        fails and what to do (``fix``).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"expected a JSON file, got a folder: {path}")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptFileError(f"{path} is not valid JSON ({e}); {fix}") from e


def read_utf8(path: str | os.PathLike, fn: str) -> str:
    """The UTF-8 text of ``path``.

    Raises:
      OSError: the file cannot be read (named by the OS error; a folder: IsADirectoryError).
      ValueError: the file is not UTF-8; the message names ``fn``, the file, the byte and
        its 1-based line.
    """
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ValueError(
            f"{fn}: {path} must be UTF-8 text, got byte {raw[e.start]:#04x} on line {line}"
        ) from e


def fsync_dir(folder: str | os.PathLike) -> None:
    """fsync a folder so that a rename in it survives a power cut (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename itself still happened
    finally:
        os.close(fd)


def _umask() -> int:
    # Reading /proc avoids os.umask(0)'s brief, thread-unsafe change of the process umask.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _clean(obj):
    """``(cleaned obj, reason or None)``: the reason says what non-finite value was dropped."""
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        obj = obj.tolist()
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj, None
        return None, "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out[k], reason = _clean(v)
            if reason is not None and isinstance(k, str):
                out[f"{k}_nonfinite"] = reason
        return out, None
    if isinstance(obj, (list, tuple)):
        items = [_clean(v) for v in obj]
        bad = [i for i, (_, r) in enumerate(items) if r is not None]
        kinds = sorted({items[i][1].split(" ")[0] for i in bad})
        reason = f"{'/'.join(kinds)} at {bad[:20]}" if bad else None
        return [v for v, _ in items], reason
    return obj, None


def _jsonable(obj):
    raise TypeError(f"write_json: obj must be JSON-able, got {type(obj).__name__}")
