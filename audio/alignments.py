"""Phone alignments: TIMIT-style ``.phn`` files and frame-level labels from them.

A ``.phn`` file has one segment a line, ``start_sample end_sample symbol``, end exclusive,
segments in order, each starting where the previous one ended. Frame ``t`` of a feature matrix
(librosa's ``center=True`` framing) is centred on sample ``t * hop``; it takes the label of the
segment covering that sample, and the state is the third of that segment the centre falls in.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from jaxcnn.audio import phones

from jaxcnn import _checks

Segment = tuple[int, int, str]  # (start_sample, end_sample exclusive, symbol)


def read_phn(path: str | os.PathLike) -> list[Segment]:
    """Read a TIMIT-style ``.phn`` file.

    Args:
      path: the file; lines ``start end symbol``; blank lines ignored.

    Returns:
      A list of ``(start, end, symbol)`` tuples in file order.

    Raises:
      ValueError: a line that is not two non-negative ASCII ints and a symbol, an end before
        its start, a file that is not UTF-8, or an empty file (the message names the file and
        the line number).
      TypeError: ``path`` is not a str or os.PathLike.
      OSError: the file cannot be read (a folder: IsADirectoryError).
    """
    _checks.path(path, "read_phn")
    segments = []
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        bad_line = raw.count(b"\n", 0, e.start) + 1
        raise ValueError(
            f"read_phn: {path} must be UTF-8 text, got byte {raw[e.start]:#04x} on line {bad_line}"
        ) from e
    for number, line in enumerate(text.split("\n"), 1):
        fields = line.split()
        if not fields:
            continue
        # isascii: str.isdigit accepts "1²", which int() then refuses
        if len(fields) != 3 or not all(f.isascii() and f.isdigit() for f in fields[:2]):
            raise ValueError(
                f"read_phn: line {number} of {path} must be 'start end symbol', got {line!r}"
            )
        start, end = int(fields[0]), int(fields[1])
        if end < start:  # else frame_labels would label nothing for it, without a word
            raise ValueError(
                f"read_phn: line {number} of {path} must have start <= end, got {line!r}"
            )
        segments.append((start, end, fields[2]))
    if not segments:
        raise ValueError(f"read_phn: {path} must contain at least one segment, got none")
    return segments


def write_phn(path: str | os.PathLike, segments: list[Segment]) -> None:
    """Write segments as a ``.phn`` file atomically (temp file + ``os.replace``).

    Raises:
      TypeError / ValueError: segments that fail :func:`check_segments` (with no audio length
        check).
    """
    check_segments(segments, None, "write_phn")
    path = Path(path)
    text = "".join(f"{s} {e} {p}\n" for s, e, p in segments)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def check_segments(segments: list[Segment], num_samples: int | None, fn: str) -> None:
    """Raise unless the segments are non-empty, contiguous, in order and inside the audio.

    Args:
      segments: ``(start, end, symbol)`` tuples.
      num_samples: the audio length in samples, or None to skip that check.
      fn: the calling function's name, for the message.

    Raises:
      TypeError: a start or end that is not an int, or a symbol that is not a str.
      ValueError: a negative start, a symbol that is empty or holds whitespace (a ``.phn``
        line could not hold it), an empty segment, a gap, an overlap, or an end past
        ``num_samples``.
    """
    if not segments:
        raise ValueError(f"{fn}: segments must be non-empty, got none")
    previous_end = segments[0][0]
    for i, (start, end, symbol) in enumerate(segments):
        if not (_checks.is_int(start) and _checks.is_int(end)):
            raise TypeError(
                f"{fn}: segment {i} ({symbol!r}) must have int start and end samples, got "
                f"{start!r}..{end!r}"
            )
        if not isinstance(symbol, str):
            raise TypeError(
                f"{fn}: segment {i} symbol must be a str, got {type(symbol).__name__} {symbol!r}"
            )
        if not symbol or len(symbol.split()) != 1 or symbol.split()[0] != symbol:
            raise ValueError(
                f"{fn}: segment {i} symbol must be non-empty without whitespace, got {symbol!r}"
            )
        if start < 0:
            raise ValueError(
                f"{fn}: segment {i} ({symbol!r}) must start at sample >= 0, got {start}"
            )
        if end <= start:
            raise ValueError(
                f"{fn}: segment {i} ({symbol!r}) must have end > start, got {start}..{end}"
            )
        if start > previous_end:
            raise ValueError(
                f"{fn}: segments must be contiguous, got a gap {previous_end}..{start} "
                f"before segment {i} ({symbol!r})"
            )
        if start < previous_end:
            raise ValueError(
                f"{fn}: segments must not overlap, got segment {i} ({symbol!r}) starting at "
                f"{start} before the previous end {previous_end}"
            )
        previous_end = end
    if num_samples is not None and previous_end > num_samples:
        raise ValueError(
            f"{fn}: alignment must end within the audio ({num_samples} samples), "
            f"got an end at sample {previous_end}"
        )


def frame_labels(
    segments: list[Segment],
    num_frames: int,
    *,
    hop: int = 160,
    num_samples: int | None = None,
    source: phones.Source = "phone",
) -> np.ndarray:
    """State labels (138 classes) at the feature frame rate.

    Args:
      segments: ``(start, end, symbol)`` in samples of the feature's sample rate.
      num_frames: number of feature frames T; frame ``t`` is centred on sample ``t * hop``.
      hop: hop length in samples (160 = 10 ms at 16 kHz).
      num_samples: the audio length, to reject alignments running past it (None: no check).
      source: symbol set of ``segments``: "phone", "timit", "arpabet", "espeak" or a
        ``{symbol: phone}`` map (see :func:`audio.phones.to_phone`).

    Returns:
      int32 ``(T,)``: ``3 * phone + third`` in ``[0, 138)``, or ``-1`` for a frame whose centre no
      segment covers (before the first or after the last); callers must drop those frames.

    Raises:
      ValueError: bad segments (see :func:`check_segments`), an unknown symbol, or a bad
        ``num_frames`` / ``hop`` (Python and NumPy ints are accepted).
    """
    if not _checks.is_int(num_frames) or num_frames < 0:
        raise ValueError(f"frame_labels: num_frames must be a non-negative int, got {num_frames!r}")
    if not _checks.is_int(hop) or hop < 1:
        raise ValueError(f"frame_labels: hop must be a positive int, got {hop!r}")
    check_segments(segments, num_samples, "frame_labels")
    starts = np.array([s for s, _, _ in segments], np.int64)
    ends = np.array([e for _, e, _ in segments], np.int64)
    ids = np.array([phones.phone_index(p, source) for _, _, p in segments], np.int64)
    centres = np.arange(num_frames, dtype=np.int64) * hop
    seg = np.searchsorted(starts, centres, side="right") - 1  # last segment starting <= centre
    covered = (seg >= 0) & (centres < ends[-1])
    seg = np.clip(seg, 0, len(segments) - 1)
    # Which third of its segment the centre is in; integer arithmetic, so no rounding surprises.
    third = (3 * (centres - starts[seg])) // (ends[seg] - starts[seg])
    states = ids[seg] * phones.STATES_PER_PHONE + np.minimum(third, 2)
    return np.where(covered, states, -1).astype(np.int32)


def rescale(segments: list[Segment], rate_from: int, rate_to: int) -> list[Segment]:
    """Move sample positions to another sample rate (rounded), dropping segments that vanish.

    Args:
      segments: ``(start, end, symbol)`` in samples at ``rate_from``.
      rate_from, rate_to: sample rates in Hz, positive ints.

    Returns:
      Contiguous segments whose boundaries are ``round(b * rate_to / rate_from)``.

    Raises:
      ValueError: a rate that is not a positive int.
    """
    for name, rate in (("rate_from", rate_from), ("rate_to", rate_to)):
        if not _checks.is_int(rate) or rate < 1:
            raise ValueError(f"rescale: {name} must be a positive int (Hz), got {rate!r}")
    out = []
    for start, end, symbol in segments:
        s = round(start * rate_to / rate_from)
        e = round(end * rate_to / rate_from)
        if e > s:
            out.append((s, e, symbol))
    return out
