"""Context windows without copies: one frame bank, an index of centres, a gather on the device.

Every utterance's ``(T, D)`` features go into one ``(F, D)`` bank, each padded by ``context``
zero frames on both sides (zero is the mean after CMVN), so a window never crosses into the
next utterance. ``centres`` holds the bank row of every labelled frame. A batch of windows is
``bank[centres[idx][:, None] + arange(-context, context + 1)]``: one gather of ``(B, 21, D)``
inside the jitted step. No ``(frames, 21, D)`` array exists anywhere, so memory is the bank
(features + 20 padding frames per utterance) plus two int32 per frame.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import jax
import numpy as np
from jaxcnn.audio import phones
from jaxcnn.audio.features import check_features

from jaxcnn import _checks

if TYPE_CHECKING:
    from jaxcnn.train.data import Dataset

CONTEXT = 10


@dataclasses.dataclass(frozen=True)
class FrameBank:
    """All frames of a set of utterances, host-side.

    Attributes:
      bank: float32 ``(F, D)``, utterances back to back, each between ``context`` zero frames.
      centres: int32 ``(N,)`` bank rows of the labelled frames (N examples).
      labels: int32 ``(N,)`` state labels in ``[0, 138)``.
      utterance: int32 ``(N,)`` which utterance (input order) each example comes from.
      context: frames on each side of a centre.
      dropped: frames without a label (outside every segment), left out of ``centres``.
    """

    bank: np.ndarray
    centres: np.ndarray
    labels: np.ndarray
    utterance: np.ndarray
    context: int
    dropped: int

    @property
    def size(self) -> int:
        return int(self.centres.shape[0])


def build_bank(
    items: Sequence, *, context: int = CONTEXT, num_classes: int = phones.NUM_STATES
) -> FrameBank:
    """Build a :class:`FrameBank` from utterances, one at a time into a preallocated bank.

    Args:
      items: a sequence of ``(features (T, D) float, labels (T,) int)`` pairs or of ``.npz``
        paths with arrays ``features`` and ``labels`` (as :func:`audio.features.extract` writes).
        Utterances whose frames are all unlabelled (-1) add nothing to the index.
        It is read twice: once for the lengths, once to fill the bank.
      context: frames each side (10 gives 21-frame windows).
      num_classes: labels must lie in ``[0, num_classes)``; ``-1`` marks an unlabelled frame.

    Returns:
      A FrameBank.

    Raises:
      ValueError: no items, a bad context or num_classes, NaN / inf features, a feature width
        that differs between utterances, labels of the wrong length or out of range, an
        ``.npz`` without ``features`` / ``labels`` / ``dim``, a damaged (truncated, garbled,
        empty) ``.npz``, or no labelled frame at all (messages name the item).
      TypeError: integer features or float labels.
    """
    fn = "build_bank"
    if not _checks.is_int(context) or context < 0:
        raise ValueError(f"{fn}: context must be a non-negative int, got {context!r}")
    if not _checks.is_int(num_classes) or num_classes < 1:
        raise ValueError(f"{fn}: num_classes must be a positive int, got {num_classes!r}")
    if len(items) == 0:
        raise ValueError(f"{fn}: items must be non-empty, got 0 utterances")
    lengths, dim = [], None
    for i, item in enumerate(items):
        shape = _shape(item)
        if len(shape) != 2 or shape[0] == 0:
            raise ValueError(f"{fn}: features of item {i} must have shape (T>0, D), got {shape}")
        if dim is not None and shape[1] != dim:
            raise ValueError(f"{fn}: features of item {i} must have {dim} columns, got {shape}")
        dim = shape[1]
        lengths.append(shape[0])
    total = sum(lengths) + 2 * context * len(lengths)
    assert dim is not None  # items is not empty
    bank = _aligned_zeros((total, dim))
    centres = np.empty(sum(lengths), np.int32)
    labels = np.empty(sum(lengths), np.int32)
    utterance = np.empty(sum(lengths), np.int32)
    row, n = 0, 0
    for i, item in enumerate(items):
        feats, labs = _load(item)
        check_features(feats, f"{fn} (item {i})", dim)
        labs = np.asarray(labs)
        if labs.shape != (feats.shape[0],):
            raise ValueError(
                f"{fn}: labels of item {i} must have shape ({feats.shape[0]},), got {labs.shape}"
            )
        if not np.issubdtype(labs.dtype, np.integer):
            raise TypeError(f"{fn}: labels of item {i} must be integers, got {labs.dtype}")
        if labs.size and (labs.min() < -1 or labs.max() >= num_classes):
            raise ValueError(
                f"{fn}: labels of item {i} must be in [0, {num_classes}) or -1, got values in "
                f"[{labs.min()}, {labs.max()}]"
            )
        t = feats.shape[0]
        start = row + context
        bank[start : start + t] = feats
        keep = np.nonzero(labs >= 0)[0]
        centres[n : n + len(keep)] = start + keep
        labels[n : n + len(keep)] = labs[keep]
        utterance[n : n + len(keep)] = i
        n += len(keep)
        row += t + 2 * context
    dropped = len(centres) - n
    if n == 0:
        raise ValueError(
            f"{fn}: items must have at least one labelled frame, got 0 of {len(centres)} frames "
            f"labelled in {len(lengths)} utterances (no alignments? audio.features.extract "
            "reports the utterances without a .phn)"
        )
    # Slices of the preallocated arrays: the unused tail (dropped frames) costs 12 bytes a frame.
    return FrameBank(bank, centres[:n], labels[:n], utterance[:n], context, dropped)


def take(arrays: dict, indices: jax.Array) -> dict:
    """Gather a batch of windows on the device (pure, jittable; for ``jaxcnn.train.data.Dataset``).

    Args:
      arrays: {"bank": (F, D) float32, "centres": (N,) int32, "labels": (N,) int32,
        "offsets": (2 * context + 1,) int32}.
      indices: int32 ``(B,)`` example indices in ``[0, N)``.

    Returns:
      {"x": (B, 2 * context + 1, D) float32, "y": (B,) int32}.
    """
    centres = arrays["centres"][indices]  # (B,)
    rows = centres[:, None] + arrays["offsets"][None, :]  # (B, 21)
    return {"x": arrays["bank"][rows], "y": arrays["labels"][indices]}


def to_dataset(frames: FrameBank, *, device: jax.Device | None = None) -> Dataset:
    """The bank as a ``jaxcnn.train.data.Dataset`` whose ``take`` is :func:`take`.

    Args:
      frames: a FrameBank.
      device: where to put the arrays (default: JAX's default device).

    Returns:
      ``Dataset(arrays, take, size=frames.size)``; a batch is {"x": (B, 21, D), "y": (B,)}.
    """
    from jaxcnn.train.data import Dataset

    arrays = {
        "bank": frames.bank,
        "centres": frames.centres,
        "labels": frames.labels,
        "offsets": np.arange(-frames.context, frames.context + 1, dtype=np.int32),
    }
    # The bank is 64-byte aligned, so on the CPU backend this aliases it instead of copying.
    arrays = jax.device_put(arrays, device, may_alias=True)
    return Dataset(arrays=arrays, take=take, size=frames.size)


def naive_windows(frames: FrameBank, indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """Windows cut by a Python loop from the bank (a reference for tests), ``(B, 21, D)``."""
    c = frames.context
    rows = [frames.bank[frames.centres[i] - c : frames.centres[i] + c + 1] for i in indices]
    return np.stack(rows)


def _shape(item) -> tuple[int, ...]:
    if isinstance(item, (str, os.PathLike)):
        with _open_npz(item) as z:
            _check_keys(item, z, ("labels", "dim"))
            return tuple(z["labels"].shape) + (int(z["dim"]),)
    return tuple(np.shape(item[0]))


def _load(item):
    if isinstance(item, (str, os.PathLike)):
        try:
            with _open_npz(item) as z:
                _check_keys(item, z, ("features", "labels"))
                return z["features"], z["labels"]
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:  # damaged inside
            raise _damaged(item, e) from e
    return np.asarray(item[0]), item[1]


def _open_npz(path):
    """``np.load`` of a cache entry; a damaged file raises ValueError naming it and the fix."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise _damaged(path, e) from e


def _damaged(path, error: BaseException) -> ValueError:
    return ValueError(
        f"build_bank: {path} must be a readable .npz feature file, got "
        f"{type(error).__name__}: {error} (a damaged cache entry: run audio.features.extract "
        "again, which validates every entry and recomputes damaged ones)"
    )


def _check_keys(path, z, keys) -> None:
    if any(k not in z.files for k in keys):
        raise ValueError(
            f"build_bank: {path} must hold arrays 'features', 'labels' and 'dim' "
            f"(as audio.features.extract writes), got {sorted(z.files)}"
        )


def measure_memory(num_frames: int = 1_000_000, utterance_frames: int = 330, seed: int = 0) -> dict:
    """Peak host memory of :func:`build_bank` for ``num_frames`` frames, against the feature bytes.

    Writes utterances of ``utterance_frames`` random 40-dim frames as ``.npz`` files (values do not
    matter for memory) to a temporary folder, then builds the bank under ``tracemalloc`` (NumPy
    reports its buffers to it), and also places it on the default JAX device.

    Returns:
      {"frames", "feature_bytes", "peak_bytes" (tracemalloc, host build), "ratio",
       "rss_growth_bytes" (peak RSS growth incl. the device copy), "bank_bytes", "index_bytes"}.
    """
    import tempfile
    import tracemalloc

    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        paths, left, i = [], num_frames, 0
        while left > 0:
            t = min(utterance_frames, left)
            feats = rng.normal(size=(t, 40)).astype(np.float32)
            labels = rng.integers(0, 138, size=t).astype(np.int32)
            paths.append(os.path.join(tmp, f"{i}.npz"))
            np.savez(paths[-1], features=feats, labels=labels, dim=np.int64(40))
            left, i = left - t, i + 1
        rss_before = _rss()
        tracemalloc.start()
        frames = build_bank(paths)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # XLA's device buffers are not seen by tracemalloc: count them through the RSS.
        arrays = jax.device_put({"bank": frames.bank, "centres": frames.centres}, may_alias=True)
        jax.block_until_ready(arrays)
        rss_growth = _rss_peak() - rss_before
    feature_bytes = num_frames * 40 * 4
    return {
        "frames": num_frames,
        "feature_bytes": feature_bytes,
        "peak_bytes": peak,
        "ratio": peak / feature_bytes,
        "rss_growth_bytes": rss_growth,
        "rss_ratio_with_device_copy": rss_growth / feature_bytes,
        "bank_bytes": frames.bank.nbytes,
        "index_bytes": frames.centres.nbytes + frames.labels.nbytes + frames.utterance.nbytes,
    }


def _rss() -> int:
    """Current resident set size in bytes (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _rss_peak() -> int:
    """Peak resident set size of this process in bytes (Linux: ru_maxrss is in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _aligned_zeros(shape: tuple[int, int]) -> np.ndarray:
    """float32 zeros on a 64-byte boundary: XLA's CPU client can then alias it (no device copy)."""
    n = shape[0] * shape[1] * 4
    raw = np.zeros(n + 64, np.uint8)
    offset = (-raw.ctypes.data) % 64
    return raw[offset : offset + n].view(np.float32).reshape(shape)
