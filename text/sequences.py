"""Variable-length sentences as a few fixed shapes: bucketing with masks, and masked pooling.

``jit`` compiles once per input shape. Padding every sentence to the longest one wastes
work on short sentences; padding each to its own length compiles once per length. Buckets
are the middle way: a sentence goes to the smallest of a few lengths that holds it, so an
epoch compiles at most once per bucket, and a boolean mask marks the real tokens. Every
model reduces over time with the masked pools below, which make padding invisible.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxcnn.text.vocab import PAD_ID

from jaxcnn import _checks
from jaxcnn.functional import global_avg_pool, global_max_pool

TOO_LONG = ("TRUNCATE", "ERROR")


@dataclasses.dataclass(frozen=True)
class Bucket:
    """Sentences padded to one length ``L``.

    ``ids`` int32 ``(N, L)`` (``PAD_ID`` after each sentence), ``mask`` bool ``(N, L)`` (True
    on real tokens), ``index`` int64 ``(N,)``: each row's position in the input list.
    """

    ids: np.ndarray
    mask: np.ndarray
    index: np.ndarray

    @property
    def length(self) -> int:
        return self.ids.shape[1]


@dataclasses.dataclass(frozen=True)
class BucketStats:
    """``counts[i]`` sentences went to bucket ``i``; ``truncated`` were cut to the longest
    bucket; ``empty`` had no tokens and were skipped (their indices are missing)."""

    lengths: tuple[int, ...]
    counts: tuple[int, ...]
    truncated: int
    empty: int


def bucket_sequences(
    sequences: Sequence[np.ndarray],
    lengths: Sequence[int] = (16, 32, 64),
    *,
    too_long: str = "truncate",
    min_count: int = 1,
) -> tuple[list[Bucket], BucketStats]:
    """Pad each id sequence to the smallest bucket length that holds it.

    Args:
      sequences: ``(T_i,)`` int id arrays (e.g. :meth:`Vocabulary.encode` results).
      lengths: the bucket lengths, strictly increasing positive ints.
      too_long: ``"truncate"`` cuts a sentence longer than ``lengths[-1]`` to that length
        (and counts it); ``"error"`` raises.
      min_count: a bucket with fewer sentences is merged into the next longer one (the
        longest into the previous one), so that every bucket fills a training batch.

    Returns:
      ``(buckets, stats)``: one :class:`Bucket` per length that received a sentence, in
      increasing length order; empty sequences are skipped and counted in ``stats``.

    Raises:
      TypeError: ``lengths`` not a sequence of ints; a sequence of non-integer ids.
      ValueError: lengths not strictly increasing or not positive; an unknown ``too_long``;
        with ``too_long="error"``, a sentence longer than the longest bucket; a sequence that
        is not 1-D (the message gives its index).
    """
    fn = "bucket_sequences"
    if not isinstance(lengths, Sequence | np.ndarray):
        raise TypeError(
            f"{fn}: lengths must be a sequence of ints, got {type(lengths).__name__} {lengths!r}"
        )
    lengths = _checks.positive(
        _checks.ntuple(tuple(lengths), len(lengths), fn, "lengths"), fn, "lengths"
    )
    if not lengths or any(b <= a for a, b in zip(lengths, lengths[1:], strict=False)):
        raise ValueError(f"{fn}: lengths must be strictly increasing, got {lengths}")
    mode = _checks.one_of(too_long, TOO_LONG, fn, "too_long")
    longest = lengths[-1]
    members: list[list[int]] = [[] for _ in lengths]
    truncated = empty = 0
    for i, seq in enumerate(sequences):
        n = len(_check_sequence(seq, i, fn))
        if n == 0:
            empty += 1
            continue
        if n > longest:
            if mode == "ERROR":
                raise ValueError(
                    f"{fn}: sequences must have at most {longest} tokens (the longest bucket), "
                    f"got {n} tokens at index {i}"
                )
            truncated += 1
        members[int(np.searchsorted(lengths, min(n, longest)))].append(i)
    members = _merge_small(members, min_count)
    buckets = []
    for length, idx in zip(lengths, members, strict=True):
        if not idx:
            continue
        ids = np.full((len(idx), length), PAD_ID, np.int32)
        for row, i in enumerate(idx):
            seq = np.asarray(sequences[i], np.int32)[:length]
            ids[row, : len(seq)] = seq
        mask = np.zeros((len(idx), length), bool)
        for row, i in enumerate(idx):
            mask[row, : min(len(sequences[i]), length)] = True
        buckets.append(Bucket(ids, mask, np.asarray(idx, np.int64)))
    counts = tuple(len(m) for m in members)
    return buckets, BucketStats(lengths, counts, truncated, empty)


def pad_to(sequences: Sequence[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad (or cut) every sequence to one ``length``: ``(ids (N, L) int32, mask (N, L) bool)``.

    Raises:
      ValueError: ``length < 1``; a sequence that is not 1-D.
      TypeError: a sequence of non-integer ids.
    """
    if not _checks.is_int(length) or length < 1:
        raise ValueError(f"pad_to: length must be a positive int, got {length!r}")
    for i, seq in enumerate(sequences):
        _check_sequence(seq, i, "pad_to")
    ids = np.full((len(sequences), length), PAD_ID, np.int32)
    mask = np.zeros((len(sequences), length), bool)
    for row, seq in enumerate(sequences):
        seq = np.asarray(seq, np.int32)[:length]
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = True
    return ids, mask


def masked_max_pool(x: jax.Array, mask: jax.Array) -> jax.Array:
    """Max over time of the real positions only (max-over-time pooling, Kim 2014).

    The sequence form of :func:`jaxcnn.functional.global_max_pool` with a mask: the rank and
    mask shape are checked for text's ``(N, L, C)``.

    Padded positions are replaced by ``-inf`` before the max, so neither their values nor
    their count matter, and they get exactly zero gradient. A row with no real position
    gives zeros (not ``-inf``).

    Args:
      x: ``(N, L, C)`` (NWC) floats.
      mask: ``(N, L)`` bool, True on real positions.

    Returns:
      ``(N, C)``.

    Raises:
      TypeError: a mask that is not bool (a 0/1 or float mask is not cast).
      ValueError: wrong ranks or mismatched ``(N, L)``.
    """
    return global_max_pool(x, _check_pool_args(x, mask, "masked_max_pool"))


def masked_mean_pool(x: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean over time of the real positions only.

    Args:
      x: ``(N, L, C)`` (NWC) floats.
      mask: ``(N, L)`` bool, True on real positions.

    Returns:
      ``(N, C)``; zeros for a row with no real position.

    Raises:
      TypeError: a mask that is not bool (a 0/1 or float mask is not cast).
      ValueError: wrong ranks or mismatched ``(N, L)``.
    """
    return global_avg_pool(x, _check_pool_args(x, mask, "masked_mean_pool"))


def _check_sequence(seq: object, i: int, fn: str) -> np.ndarray:
    """``seq`` as an array, after checking it is 1-D integer ids (an empty one of any dtype)."""
    seq = np.asarray(seq)
    if seq.ndim != 1:
        raise ValueError(f"{fn}: sequences[{i}] must have rank 1 (T,), got shape {seq.shape}")
    if seq.size and not np.issubdtype(seq.dtype, np.integer):
        raise TypeError(f"{fn}: sequences[{i}] must have an integer dtype, got {seq.dtype}")
    return seq


def _merge_small(members: list[list[int]], min_count: int) -> list[list[int]]:
    out = [list(m) for m in members]
    for i in range(len(out) - 1):  # short to long: a small bucket joins the next longer one
        if 0 < len(out[i]) < min_count:
            out[i + 1] = sorted(out[i] + out[i + 1])
            out[i] = []
    last = len(out) - 1
    if 0 < len(out[last]) < min_count:  # the longest cannot grow: take the previous one in
        prev = max((j for j in range(last) if out[j]), default=None)
        if prev is not None:
            out[last] = sorted(out[prev] + out[last])
            out[prev] = []
    return out


def _check_pool_args(x: jax.Array, mask: jax.Array, fn: str) -> jax.Array:
    shape = _checks.rank(x, 3, fn, "x", "(N, L, C)")
    mshape = _checks.rank(mask, 2, fn, "mask", "(N, L)")
    if mshape != shape[:2]:
        raise ValueError(f"{fn}: mask must have shape {shape[:2]} (N, L of x), got {mshape}")
    # Casting would turn any nonzero weight (0.5, -1) into a real position without a word.
    if np.dtype(mask.dtype) != np.bool_:
        raise TypeError(
            f"{fn}: mask must be a bool array (True on real positions), got {mask.dtype}"
        )
    return jnp.asarray(mask)
