"""IDX files (MNIST, Fashion-MNIST): read and write, gzipped or not.

The format is a 4-byte magic ``00 00 <dtype code> <ndim>``, then ``ndim`` big-endian uint32
sizes, then the array in C order, big-endian. Every field is checked against the file length
so a truncated or foreign file fails with a message instead of a garbled array.
"""

from __future__ import annotations

import math
import os
import zlib
from pathlib import Path

import numpy as np

from jaxcnn import _checks, _durable

# IDX type codes -> big-endian NumPy dtypes (the format's own table).
_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_DTYPE_TO_CODE = {v.newbyteorder("="): k for k, v in _CODES.items()}

# Largest IDX file read (uncompressed): Fashion-MNIST's biggest is 47 MB.
MAX_BYTES = 2**32

INSTALL_HINT = "install it with `apt-get install dataset-fashion-mnist` or pass the folder path"
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (``.gz`` is decompressed by its magic bytes, not its name).

    Args:
      path: the file.

    Returns:
      An array with the file's shape and dtype in native byte order (uint8 for images/labels).

    Raises:
      TypeError: ``path`` is not a str or os.PathLike (None, say).
      FileNotFoundError: no such file.
      ValueError: bad magic, unknown type code, a file shorter/longer than its header says, or a
        truncated or damaged gzip file.
    """
    _checks.path(path, "read_idx")
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(
            f"read_idx: {path} must start with a 4-byte IDX magic, got {len(raw)} bytes"
        )
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"read_idx: {path} must start with bytes 00 00 (IDX magic), got {raw[:2].hex(' ')}"
        )
    code, ndim = raw[2], raw[3]
    if code not in _CODES:
        raise ValueError(
            f"read_idx: {path} type code must be one of {[hex(c) for c in _CODES]}, got {hex(code)}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"read_idx: {path} must hold {ndim} dimension sizes, got a {len(raw)}-byte file"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = _CODES[code]
    # Python ints: np.prod wrapped 65536**4 to 0 and let a 16-byte file pass as empty.
    want = header + math.prod(shape) * dtype.itemsize
    if len(raw) != want:
        what = "truncated" if len(raw) < want else "has trailing bytes"
        raise ValueError(
            f"read_idx: {path} must be {want} bytes for shape {shape} {dtype.name}, "
            f"got {len(raw)} ({what})"
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file, atomically (temp file + ``os.replace``).

    Args:
      path: destination; gzipped when ``compress`` is True, or when None and it ends in ``.gz``.
      array: any shape (rank <= 255) of uint8, int8, int16, int32, float32 or float64.

    Raises:
      TypeError: a dtype IDX cannot store.
      ValueError: rank above 255 or a size above 2**32 - 1.
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _DTYPE_TO_CODE:
        raise TypeError(
            f"write_idx: array dtype must be one of "
            f"{sorted(str(d) for d in _DTYPE_TO_CODE)}, got {array.dtype}"
        )
    if array.ndim > 255 or any(s >= 2**32 for s in array.shape):
        raise ValueError(f"write_idx: array shape must fit IDX (rank<=255), got {array.shape}")
    code = _DTYPE_TO_CODE[native]
    body = (
        bytes([0, 0, code, array.ndim])
        + np.asarray(array.shape, ">u4").tobytes()
        + np.ascontiguousarray(array, _CODES[code]).tobytes()
    )
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        import gzip

        body = gzip.compress(body, mtime=0)  # mtime=0: same bytes for the same array
    _durable.write_bytes(path, body)


def load_idx_pair(
    images_path: str | os.PathLike, labels_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file ``(N, H, W)`` and a labels file ``(N,)`` and check they match.

    Returns:
      ``(images (N, H, W) uint8, labels (N,) int32)``.

    Raises:
      ValueError: wrong ranks or dtypes (images not uint8, labels not integer), or a different
        number of images and labels.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    # Float labels would be truncated by astype(int32), and load_fashion_mnist divides images
    # by 255: both assume the MNIST types.
    if images.dtype != np.uint8:
        raise ValueError(
            f"load_idx_pair: images must be uint8, got {images.dtype} in {images_path}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"load_idx_pair: labels must have an integer dtype, got {labels.dtype} in {labels_path}"
        )
    if images.ndim != 3:
        raise ValueError(
            f"load_idx_pair: images must have rank 3 (N, H, W), got shape {images.shape}"
        )
    if labels.ndim != 1:
        raise ValueError(f"load_idx_pair: labels must have rank 1 (N,), got shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(
            f"load_idx_pair: labels must have one entry per image ({len(images)}), "
            f"got {len(labels)} in {labels_path}"
        )
    return images, labels.astype(np.int32)


def load_fashion_mnist(
    directory: str | os.PathLike = FASHION_MNIST_DIR, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (or MNIST: same file names) from a folder of standard IDX files.

    Args:
      directory: holds ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (``.gz`` or not).
      split: ``"train"`` (60,000) or ``"test"`` (10,000).

    Returns:
      ``(images (N, 28, 28, 1) float32 in [0, 1], labels (N,) int32)`` (NHWC).

    Raises:
      FileNotFoundError: the files are missing (the message says how to install them).
      ValueError: unknown split, or a bad file.
    """
    if split not in ("train", "test"):
        raise ValueError(
            f"load_fashion_mnist: split must be one of ['train', 'test'], got {split!r}"
        )
    prefix = "train" if split == "train" else "t10k"
    paths = []
    for kind in ("images-idx3", "labels-idx1"):
        base = Path(directory) / f"{prefix}-{kind}-ubyte"
        found = [p for p in (base.with_name(base.name + ".gz"), base) if p.exists()]
        if not found:
            raise FileNotFoundError(
                f"load_fashion_mnist: {base}[.gz] must exist, got no such file; {INSTALL_HINT}"
            )
        paths.append(found[0])
    images, labels = load_idx_pair(*paths)
    return (images[..., None].astype(np.float32) / 255.0), labels


def _read_bytes(path: str | os.PathLike) -> bytes:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"read_idx: path must exist, got {path}")
    if path.is_dir():
        raise IsADirectoryError(f"read_idx: path must be an IDX file, got a folder: {path}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic: decide by content, not by file name
        raw = _gunzip(raw, path)
    return raw


def _gunzip(data: bytes, path: Path) -> bytes:
    """Decompress a gzipped IDX file, never more than its header declares (+1 byte).

    A small file that inflates to gigabytes (a gzip bomb) fails once it passes the size its
    own header gives, or at once if that size is above `MAX_BYTES`.
    """
    stream = zlib.decompressobj(wbits=31)  # 31: gzip framing
    try:
        out = stream.decompress(data, 4 + 4 * 255)  # the longest possible header
        declared = _declared_size(out)
        if declared is not None:
            if declared > MAX_BYTES:
                raise ValueError(
                    f"read_idx: {path} header must declare at most {MAX_BYTES} bytes, got "
                    f"{declared}"
                )
            if declared + 1 > len(out):  # max_length 0 would mean no limit
                out += stream.decompress(stream.unconsumed_tail, declared + 1 - len(out))
    except zlib.error as err:  # a corrupt body or checksum
        raise ValueError(f"read_idx: {path} must be a complete gzip file, got {err}") from err
    if declared is not None and not stream.eof and len(out) <= declared:
        raise ValueError(f"read_idx: {path} must be a complete gzip file, got a truncated one")
    return out


def _declared_size(head: bytes) -> int | None:
    """The total size an IDX header declares, or None if ``head`` is not a full IDX header."""
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in _CODES:
        return None
    header = 4 + 4 * head[3]
    if len(head) < header:
        return None
    shape = (int.from_bytes(head[i : i + 4], "big") for i in range(4, header, 4))
    return header + math.prod(shape) * _CODES[head[2]].itemsize
