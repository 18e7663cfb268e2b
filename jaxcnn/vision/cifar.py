"""CIFAR-10 / CIFAR-100 "python version" batches, read without trusting pickle.

The official batches are Python pickles of a dict ``{b"data": uint8 (N, 3072), b"labels": [...],
...}``. ``pickle.load`` would run any callable the file names, so we unpickle with a restricted
``Unpickler`` whose ``find_class`` allows only the handful of globals a NumPy array needs
(``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``, and
``_codecs.encode`` that Python 3 uses for ``bytes`` at protocol 2); anything else raises.
The result is then checked field by field, so even an allowed-but-odd file gives a clear error.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from jaxcnn import _checks

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}
_MAX_BYTES = 1 << 30  # a CIFAR batch is ~30 MB; refuse anything absurdly large before parsing

CIFAR_HINT = (
    "download the CIFAR 'python version' archive elsewhere, extract it and pass the folder "
    "(e.g. .../cifar-10-batches-py)"
)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)


def read_cifar_batch(
    path: str | os.PathLike, label_key: str = "labels"
) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR python batch.

    Args:
      path: a batch file (``data_batch_1``, ``test_batch``; CIFAR-100 ``train`` / ``test``).
      label_key: ``"labels"`` (CIFAR-10), ``"fine_labels"`` or ``"coarse_labels"`` (CIFAR-100).

    Returns:
      ``(images (N, 32, 32, 3) uint8 NHWC, labels (N,) int32)``.

    Raises:
      TypeError: ``path`` is not a str or os.PathLike (None, say).
      FileNotFoundError: missing file (the message says where to get it).
      ValueError: not a CIFAR batch, a forbidden global in the pickle, or inconsistent fields.
    """
    _checks.path(path, "read_cifar_batch")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"read_cifar_batch: path must exist, got {path}; {CIFAR_HINT}")
    size = path.stat().st_size  # before reading: a huge file must not be loaded into memory
    if size > _MAX_BYTES:
        raise ValueError(f"read_cifar_batch: {path} must be under 1 GiB, got {size} bytes")
    raw = path.read_bytes()
    try:
        obj = _RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as err:  # noqa: BLE001 - damaged bytes fail in many ways (LookupError,
        # KeyError, IndexError, struct.error, ...); the restricted unpickler runs nothing else
        raise ValueError(
            f"read_cifar_batch: {path} must be a CIFAR python batch, got {err}"
        ) from err
    if not isinstance(obj, dict):
        raise ValueError(f"read_cifar_batch: {path} must hold a dict, got {type(obj).__name__}")
    obj = {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}
    if "data" not in obj or label_key not in obj:
        raise ValueError(
            f"read_cifar_batch: {path} must have keys 'data' and {label_key!r}, got {sorted(obj)}"
        )
    data = obj["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        got = getattr(data, "dtype", type(data).__name__), getattr(data, "shape", None)
        raise ValueError(
            f"read_cifar_batch: data in {path} must be a uint8 (N, 3072) array, got {got}"
        )
    if data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"read_cifar_batch: data in {path} must have 3072 columns, got {data.shape}"
        )
    labels = np.asarray(obj[label_key])
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"read_cifar_batch: {label_key} in {path} must be a list of ints, got {labels.dtype}"
        )
    if len(labels) != len(data):
        raise ValueError(
            f"read_cifar_batch: {label_key} in {path} must have one entry per image ({len(data)}), "
            f"got {len(labels)}"
        )
    # Rows are stored channel-major (1024 R, 1024 G, 1024 B): NCHW -> NHWC.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int32)


def load_cifar(
    directory: str | os.PathLike, split: str = "train", *, label_key: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 (``data_batch_1..5`` / ``test_batch``) or CIFAR-100 (``train`` / ``test``).

    Args:
      directory: the extracted ``cifar-10-batches-py`` or ``cifar-100-python`` folder.
      split: ``"train"`` or ``"test"``.
      label_key: default ``"labels"`` for CIFAR-10, ``"fine_labels"`` for CIFAR-100.

    Returns:
      ``(images (N, 32, 32, 3) float32 in [0, 1] NHWC, labels (N,) int32)``.

    Raises:
      FileNotFoundError: neither layout is present in ``directory``.
      ValueError: a bad split or batch.
    """
    if split not in ("train", "test"):
        raise ValueError(f"load_cifar: split must be one of ['train', 'test'], got {split!r}")
    directory = Path(directory)
    if (directory / "test_batch").exists():  # CIFAR-10
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        label_key = label_key or "labels"
    elif (directory / "test").exists():  # CIFAR-100
        names = [split]
        label_key = label_key or "fine_labels"
    else:
        raise FileNotFoundError(
            f"load_cifar: directory must hold CIFAR batches (test_batch or test), got {directory}; "
            f"{CIFAR_HINT}"
        )
    parts = [read_cifar_batch(directory / n, label_key) for n in names]
    images = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    return images, np.concatenate([p[1] for p in parts])
