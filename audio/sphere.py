"""NIST SPHERE audio (TIMIT's ``.WAV`` files): read and write uncompressed PCM.

A SPHERE file is an ASCII header, ``NIST_1A\\n`` then the header length in bytes (``   1024``)
on the second line, then ``name -type value`` fields up to ``end_head``, padded to that length,
then the samples, channels interleaved. ``sample_byte_format`` ``01`` is little-endian, ``10``
big-endian, ``1`` one byte. Only ``sample_coding`` ``pcm`` (the default) is read: TIMIT as
distributed on CD is plain PCM, but many LDC corpora are shorten-compressed
(``pcm,embedded-shorten-v2.00``); those raise an error saying how to decompress them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

MAGIC = b"NIST_1A\n"


def is_sphere(path: str | os.PathLike) -> bool:
    """Whether the file starts with the SPHERE magic ``NIST_1A`` (False if unreadable)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def read_header(data: bytes, path: str | os.PathLike = "<bytes>") -> tuple[dict, int]:
    """Parse a SPHERE header.

    Args:
      data: the file's bytes (at least the header).
      path: the file, for messages.

    Returns:
      ``(fields, header_bytes)``: ``{name: int | float | str}`` and where the samples start.

    Raises:
      ValueError: no ``NIST_1A`` magic, a bad header length, no ``end_head``, or a bad field.
    """
    if not data.startswith(MAGIC):
        raise ValueError(f"read_sphere: {path} must start with 'NIST_1A', got {data[:8]!r}")
    try:
        size = int(data[8:16].split(b"\n")[0])
    except ValueError:
        msg = f"read_sphere: {path} must give its header length, got {data[8:16]!r}"
        raise ValueError(msg) from None
    if size < 16 or size > len(data):
        raise ValueError(
            f"read_sphere: {path} header length must be in [16, {len(data)}], got {size}"
        )
    fields: dict = {}
    lines = data[:size].decode("ascii", "replace").split("\n")[2:]
    for line in lines:
        line = line.strip()
        if line == "end_head":
            return fields, size
        if not line or line.startswith(";"):
            continue
        parts = line.split(None, 2)
        if len(parts) != 3:
            raise ValueError(f"read_sphere: {path} header line must be 'name -type value', got "
                             f"{line!r}")  # fmt: skip
        name, kind, value = parts
        try:
            fields[name] = int(value) if kind == "-i" else float(value) if kind == "-r" else value
        except ValueError:
            msg = f"read_sphere: {path} header field {name} is not a {kind}: {value!r}"
            raise ValueError(msg) from None
    raise ValueError(f"read_sphere: {path} header must end with 'end_head' within {size} bytes")


def read_sphere(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read an uncompressed PCM SPHERE file.

    Args:
      path: the file.

    Returns:
      ``(samples, sample_rate)``: float32 ``(num_samples, channels)`` in [-1, 1) and Hz.

    Raises:
      ValueError: not SPHERE, a compressed (shorten, wavpack) or non-PCM coding, a sample size
        other than 1, 2 or 4 bytes, a missing sample rate, or fewer samples than the header
        says (truncated); every message names the file.
    """
    data = Path(path).read_bytes()
    fields, start = read_header(data, path)
    coding = str(fields.get("sample_coding", "pcm"))
    if "shorten" in coding or "wavpack" in coding:
        raise ValueError(
            f"read_sphere: {path} must be uncompressed PCM, got sample_coding {coding!r} "
            "(decompress it first, e.g. `sph2pipe -f wav IN OUT.wav` or `w_decode -o pcm IN OUT`)"
        )
    if coding != "pcm":
        raise ValueError(f"read_sphere: {path} must have sample_coding 'pcm', got {coding!r}")
    rate = fields.get("sample_rate")
    if not isinstance(rate, int) or rate < 1:
        raise ValueError(f"read_sphere: {path} must give a positive int sample_rate, got {rate!r}")
    width = fields.get("sample_n_bytes", 2)
    channels = fields.get("channel_count", 1)
    if width not in (1, 2, 4) or not isinstance(channels, int) or channels < 1:
        raise ValueError(
            f"read_sphere: {path} must have sample_n_bytes 1, 2 or 4 and channel_count >= 1, "
            f"got {width!r} and {channels!r}"
        )
    order = str(fields.get("sample_byte_format", "01" if width > 1 else "1"))
    endian = ">" if order.startswith("10") else "<"
    dtype = np.dtype(f"{endian}i{width}")
    body = data[start:]
    count = fields.get("sample_count", len(body) // (width * channels))
    if not isinstance(count, int) or count * width * channels > len(body):
        raise ValueError(
            f"read_sphere: {path} must hold sample_count={count!r} samples x {channels} channels "
            f"of {width} bytes, got {len(body)} bytes (truncated?)"
        )
    pcm = np.frombuffer(body, dtype, count * channels).reshape(count, channels)
    scale = float(2 ** (8 * width - 1))
    return (pcm.astype(np.float32) / scale), rate


def write_sphere(path: str | os.PathLike, pcm: np.ndarray, sample_rate: int) -> None:
    """Write int16 PCM as a SPHERE file like TIMIT's (1024-byte header, little-endian), atomically.

    Args:
      path: the output file.
      pcm: int16 ``(num_samples,)`` or ``(num_samples, channels)``.
      sample_rate: Hz, a positive int.

    Raises:
      TypeError: ``pcm`` not int16.
      ValueError: ``pcm`` not 1-D or 2-D, or a bad sample rate.
    """
    pcm = np.asarray(pcm)
    if pcm.dtype != np.int16:
        raise TypeError(f"write_sphere: pcm must be int16, got {pcm.dtype}")
    if pcm.ndim not in (1, 2):
        raise ValueError(f"write_sphere: pcm must be (n,) or (n, channels), got {pcm.shape}")
    if not isinstance(sample_rate, int) or sample_rate < 1:
        raise ValueError(f"write_sphere: sample_rate must be a positive int, got {sample_rate!r}")
    pcm = pcm.reshape(pcm.shape[0], -1)
    fields = [
        "database_id -s5 TIMIT",
        f"sample_count -i {pcm.shape[0]}",
        f"sample_rate -i {sample_rate}",
        f"channel_count -i {pcm.shape[1]}",
        "sample_byte_format -s2 01",
        "sample_n_bytes -i 2",
        "sample_sig_bits -i 16",
        "sample_coding -s3 pcm",
        "end_head",
    ]
    header = ("NIST_1A\n   1024\n" + "\n".join(fields) + "\n").encode("ascii").ljust(1024, b" ")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(header + pcm.astype("<i2").tobytes())
    os.replace(tmp, path)
