"""Audio loading, MFCC / log-mel (MFSC) features, deltas and per-utterance CMVN.

Settings follow the notes: 16 kHz audio, 25 ms Hann window (``n_fft = win = 400``), 10 ms hop
(160), 40 mel bands, 40 coefficients. Framing is librosa's ``center=True`` (zero padding of
``n_fft // 2`` each side), so frame ``t`` is centred on sample ``t * 160`` and an utterance of
``n`` samples has ``1 + n // 160`` frames. The STFT, dB scale and DCT are written out here in
NumPy; the tests check them against ``librosa.feature.mfcc``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence

import librosa
import numpy as np
import scipy.fft
import scipy.signal
import soundfile
from jaxcnn.audio import phones

from jaxcnn import _checks

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 40


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """What :func:`compute` produces.

    Attributes:
      kind: "mfcc" (cepstra) or "mfsc" (log-mel filterbank energies, in dB).
      num: coefficients / bands per frame (40).
      deltas: 0 (none), 1 (+ deltas) or 2 (+ deltas and delta-deltas); width multiplies by 1+deltas.
      cmvn: per-utterance mean and variance normalisation of every feature.
    """

    kind: str = "mfcc"
    num: int = 40
    deltas: int = 0
    cmvn: bool = True

    @property
    def dim(self) -> int:
        return self.num * (1 + self.deltas)


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read an audio file as stored: WAV (RIFF), FLAC, anything libsndfile reads, or NIST SPHERE.

    SPHERE (TIMIT's ``.WAV``; told by its ``NIST_1A`` magic, not by the name) is read by
    :mod:`audio.sphere` (uncompressed PCM only; shorten-compressed files raise, saying how to
    decompress them).

    Args:
      path: the file.

    Returns:
      ``(samples, sample_rate)``: float32 ``(num_samples, channels)`` in [-1, 1] and Hz.

    Raises:
      TypeError: ``path`` is not a str or os.PathLike (None, say).
      ValueError: a missing, empty, truncated, compressed-SPHERE or non-audio file, or one with
        no samples (the message names the file).
    """
    _checks.path(path, "load_audio")
    from jaxcnn.audio import sphere

    if sphere.is_sphere(path):
        try:
            data, file_sr = sphere.read_sphere(path)
        except OSError as e:
            msg = f"load_audio: {path} must be a readable audio file, got error: {e}"
            raise ValueError(msg) from e
    else:
        try:
            data, file_sr = soundfile.read(str(path), dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
            raise ValueError(
                f"load_audio: {path} must be a readable audio file, got error: {e}"
            ) from e
        _check_wav_complete(path)
    if data.shape[0] == 0:
        raise ValueError(f"load_audio: {path} must contain audio samples, got 0 samples")
    return data, int(file_sr)


def _check_wav_complete(path: str | os.PathLike) -> None:
    """Raise ValueError if a RIFF WAV file holds fewer data bytes than its header declares.

    libsndfile reads a cut WAV without a word, returning the samples that are there; a copy
    cut short would then give short features and labels past the end of the audio.
    A declared size of 0 or 0xFFFFFFFF (a stream written before its length was known) is
    not checked.
    """
    with open(path, "rb") as f:
        header = f.read(12)
        if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return
        size = os.fstat(f.fileno()).st_size
        pos = 12
        for _ in range(1024):  # a few chunks in practice; a bound against a looping header
            chunk = f.read(8)
            if len(chunk) < 8:
                return
            length = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                if length not in (0, 0xFFFFFFFF) and pos + 8 + length > size:
                    raise ValueError(
                        f"load_audio: {path} must be a complete WAV file, its header declares "
                        f"{length} data bytes and {size - pos - 8} are there (truncated?)"
                    )
                return
            pos += 8 + length + (length & 1)
            f.seek(pos)


def load_audio(path: str | os.PathLike, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file (see :func:`read_audio`), mix down to mono and resample to ``sr``.

    Stereo (any number of channels) is mixed down by averaging the channels, not refused.

    Args:
      path: the audio file (WAV, FLAC, NIST SPHERE, ... at any sample rate).
      sr: target sample rate in Hz.

    Returns:
      float32 ``(num_samples,)`` in [-1, 1].

    Raises:
      TypeError: ``path`` is not a str or os.PathLike (None, say).
      ValueError: a missing, empty, truncated or non-audio file, or one with no samples
        (the message names the file).
    """
    data, file_sr = read_audio(path)
    y = data.mean(axis=1)
    if file_sr != sr:
        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr)
    return np.ascontiguousarray(y, dtype=np.float32)


def compute(
    y: np.ndarray, sr: int = SAMPLE_RATE, config: FeatureConfig = FeatureConfig()
) -> np.ndarray:
    """Features of one utterance.

    Args:
      y: float ``(num_samples,)`` mono audio at ``sr``.
      sr: must be 16000 (resample with :func:`load_audio` first).
      config: kind, number, deltas and CMVN.

    Returns:
      float32 ``(T, config.dim)`` with ``T = 1 + num_samples // 160``; frame-major (time, feature).

    Raises:
      ValueError: ``sr`` other than 16000, ``y`` not 1-D / empty / non-finite, bad config.
      TypeError: ``y`` not floating, ``config.num`` not an int.
    """
    fn = "compute"
    if sr != SAMPLE_RATE:
        raise ValueError(f"{fn}: sr must be {SAMPLE_RATE} (resample first), got {sr}")
    y = _check_samples(y, fn)
    if config.kind not in ("mfcc", "mfsc"):
        raise ValueError(f"{fn}: config.kind must be one of ['mfcc', 'mfsc'], got {config.kind!r}")
    if config.deltas not in (0, 1, 2):
        raise ValueError(f"{fn}: config.deltas must be 0, 1 or 2, got {config.deltas!r}")
    if not _checks.is_int(config.num):
        raise TypeError(
            f"{fn}: config.num must be an int, got {type(config.num).__name__} {config.num!r}"
        )
    if not (1 <= config.num <= N_MELS):
        raise ValueError(f"{fn}: config.num must be in [1, {N_MELS}], got {config.num!r}")

    logmel = log_mel(y.astype(np.float64))  # (T, 40)
    if config.kind == "mfcc":
        feats = scipy.fft.dct(logmel, type=2, norm="ortho", axis=1)[:, : config.num]
    else:
        feats = logmel[:, : config.num]
    parts = [feats]
    if config.deltas >= 1 and feats.shape[0] >= 3:
        width = min(9, feats.shape[0] - (1 - feats.shape[0] % 2))  # odd, <= T
        parts.append(librosa.feature.delta(feats, width=max(width, 3), axis=0))
        if config.deltas == 2:
            parts.append(librosa.feature.delta(feats, width=max(width, 3), order=2, axis=0))
    elif config.deltas >= 1:  # too short for a delta window: deltas are zero
        parts += [np.zeros_like(feats)] * config.deltas
    out = np.concatenate(parts, axis=1)
    if config.cmvn:
        out = cmvn(out)
    return out.astype(np.float32)


def log_mel(y: np.ndarray) -> np.ndarray:
    """Log-mel energies in dB (librosa's ``power_to_db(ref=1, top_db=80)``), ``(T, 40)``.

    Args:
      y: float ``(num_samples,)`` at 16 kHz.

    Returns:
      float64 ``(T, 40)`` with ``T = 1 + num_samples // 160``; frame-major (time, band).

    Raises:
      ValueError: ``y`` not 1-D, empty or non-finite.
      TypeError: ``y`` not floating.
    """
    y = _check_samples(y, "log_mel").astype(np.float64)
    pad = N_FFT // 2
    padded = np.pad(y, (pad, pad))  # librosa >= 0.10 pads with zeros
    num_frames = 1 + (len(padded) - N_FFT) // HOP
    idx = np.arange(num_frames)[:, None] * HOP + np.arange(N_FFT)[None, :]
    window = scipy.signal.get_window("hann", N_FFT, fftbins=True)
    spec = np.abs(np.fft.rfft(padded[idx] * window[None, :], axis=1)) ** 2  # (T, 201)
    mel = spec @ _mel_basis().T  # (T, 40)
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    return np.maximum(db, db.max() - 80.0)


def _check_samples(y, fn: str) -> np.ndarray:
    """``y`` as an array, after checking it is a non-empty, finite, floating ``(num_samples,)``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{fn}: y must have rank 1 (num_samples,), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise TypeError(f"{fn}: y must have a floating dtype, got {y.dtype}")
    if y.size == 0:
        raise ValueError(f"{fn}: y must be non-empty, got 0 samples")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{fn}: y must be finite, got NaN or inf samples")
    return y


def _mel_basis() -> np.ndarray:
    """Slaney-style mel filterbank (40, 201), the same table librosa.feature.mfcc uses."""
    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)


def cmvn(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Per-utterance mean and variance normalisation over time.

    Args:
      x: float ``(T, D)``.

    Returns:
      ``(T, D)``, each column zero mean and unit variance (constant columns become 0).

    Raises:
      ValueError: ``x`` not 2-D, empty, or non-finite.
    """
    x = np.asarray(x)
    check_features(x, "cmvn")
    mean = x.mean(axis=0, keepdims=True)
    std = x.std(axis=0, keepdims=True)
    return (x - mean) / np.maximum(std, eps)


def check_features(x: np.ndarray, fn: str, dim: int | None = None) -> None:
    """Raise unless ``x`` is a non-empty, finite, floating ``(T, D)`` array (D == dim if given)."""
    if x.ndim != 2:
        raise ValueError(f"{fn}: features must have rank 2 (T, D), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{fn}: features must have a floating dtype, got {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError(f"{fn}: features must have at least one frame, got shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{fn}: features must have {dim} columns, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{fn}: features must be finite, got NaN or inf")


def extract(
    items: Sequence[tuple[str, str | os.PathLike, str | os.PathLike | None]],
    cache_dir: str | os.PathLike,
    config: FeatureConfig = FeatureConfig(),
    *,
    workers: int = 2,
    progress: bool | None = None,
    source: phones.Source | None = None,
) -> dict:
    """Features (and frame labels) of many files in parallel worker processes, cached as .npz.

    Each item's entry is ``cache_dir/<entry_name(key)>`` (see :mod:`audio.cache`: any key, with
    ``/``, ``..`` or unicode, becomes a file name inside ``cache_dir``). An entry is reused only
    if its fingerprint (audio bytes, ``.phn`` bytes, config, phone mapping) matches and it
    validates; a damaged entry (truncated, garbled, zeroed, empty) is recomputed with a warning.
    Writes are atomic. A file that cannot be read or labelled is skipped and logged. Utterances
    without an alignment get all labels -1; they are reported (count and first keys, a warning)
    and left out of ``paths`` (the list to build training banks from).

    ``.phn`` positions count samples of the audio file as stored, at its own rate; they are
    rescaled with the audio to 16 kHz.

    Args:
      items: sequence of ``(key, audio_path, phn_path_or_None)``; keys are unique strs.
      cache_dir: output folder (created).
      config: feature settings.
      workers: processes ("spawn" context; 1 runs in this process). Called from a script, the
        call must sit under ``if __name__ == "__main__":`` (else a RuntimeError says so).
      progress: tqdm bar (None: only on a TTY).
      source: symbol set of the ``.phn`` files: "phone", "timit", "arpabet", "espeak", a
        ``{symbol: phone}`` map (:func:`audio.phones.read_phone_map`), or None to pick the named
        set that knows every symbol in the files (:func:`audio.phones.detect_source`).

    Returns:
      {"paths": [entry path per successful item with an alignment, in item order],
       "path_of": {key: entry path} for every successful item, "unaligned": [keys without
       .phn], "skipped": [[key, reason]], "computed": int, "cached": int,
       "recomputed_bad": int (damaged entries replaced), "source": the symbol set used,
       "fingerprints": {key: SHA-256 of the entry's inputs} for every successful item}.

    Raises:
      ValueError: bad workers, empty or duplicate keys, a bad source, or ``.phn`` symbols the
        source does not know (one error listing every unknown symbol and its files).
      TypeError: a key that is not a str, or ``cache_dir`` not a str or os.PathLike.
      RuntimeError: a worker process died (see ``workers``).
    """
    _checks.path(cache_dir, "extract", "cache_dir")
    import logging
    import sys
    from pathlib import Path

    from jaxcnn.audio import _pool, cache
    from tqdm import tqdm

    log = logging.getLogger(__name__)
    if not _checks.is_int(workers) or workers < 1:
        raise ValueError(f"extract: workers must be a positive int, got {workers!r}")
    items = [(key, audio, phn) for key, audio, phn in items]
    if not items:
        raise ValueError("extract: items must be non-empty, got 0 items")
    names = [cache.entry_name(key) for key, _, _ in items]  # TypeError for a non-str key
    keys = [k for k, _, _ in items]
    if len(set(keys)) != len(keys):
        raise ValueError("extract: item keys must be unique, got duplicates")
    source, phn_skips = _pick_source(items, source)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    settings = cache.settings_text(config, phones.source_fingerprint(source))
    todo, cached, damaged, skipped, fingerprints = [], 0, 0, list(phn_skips), {}
    for (key, audio_path, phn_path), name in zip(items, names, strict=True):
        if key in {k for k, _ in phn_skips}:
            continue
        out = cache_dir / name
        try:
            fp = cache.fingerprint(audio_path, phn_path, settings)
        except OSError as e:
            skipped.append([key, f"cannot read {e.filename}: {e.strerror}"])
            continue
        fingerprints[key] = fp
        why = cache.read_entry(out, fp, config.dim, phones.NUM_STATES)
        if why is None:
            cached += 1
            continue
        if why not in ("missing", "stale"):
            damaged += 1
            log.warning("features: recomputing damaged cache entry %s (%s): %s", out, key, why)
        todo.append((key, str(out), str(audio_path), phn_path and str(phn_path), fp))
    chunks = [todo[i : i + 16] for i in range(0, len(todo), 16)]
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=len(todo), desc="features", disable=not show) as bar:
        if workers == 1 or len(chunks) <= 1:
            results: Iterable[list] = (_extract_chunk(c, config, source) for c in chunks)
        else:
            jobs = [(c, config, source) for c in chunks]
            results = _pool.run(_extract_chunk, jobs, workers, what="extract")
        for chunk, failures in zip(chunks, results, strict=True):
            skipped += failures
            bar.update(len(chunk))
    for key, reason in skipped:
        log.warning("features: skipped %s: %s", key, reason)
    if skipped:
        log.warning("features: skipped %d of %d files", len(skipped), len(items))
    bad = {k for k, _ in skipped}
    path_of = {k: str(cache_dir / n) for k, n in zip(keys, names, strict=True) if k not in bad}
    unaligned = [k for k, _, phn in items if not phn and k in path_of]
    if unaligned:
        log.warning(
            "features: %d of %d utterances have no alignment (.phn) and are left out of "
            "training banks, e.g. %s",
            len(unaligned), len(items), ", ".join(unaligned[:5]),
        )  # fmt: skip
    return {
        "paths": [path_of[k] for k, _, phn in items if phn and k in path_of],
        "path_of": path_of,
        "unaligned": unaligned,
        "skipped": skipped,
        "computed": len(todo) - len([k for k, _ in skipped if k in {t[0] for t in todo}]),
        "cached": cached,
        "recomputed_bad": damaged,
        "source": source if isinstance(source, str) else "phone map",
        "fingerprints": {k: fingerprints[k] for k in path_of},
    }


def _pick_source(items, source) -> tuple[phones.Source, list[list[str]]]:
    """Read every ``.phn``: the source to use (given or detected) and [key, reason] of bad files.

    Raises:
      ValueError: a bad ``source``, or symbols it does not know (one error for all of them).
    """
    from jaxcnn.audio import alignments

    if source is not None and not isinstance(source, Mapping) and source not in phones.SOURCES:
        raise ValueError(
            f"extract: source must be one of {list(phones.SOURCES)}, a phone map or None "
            f"(detect), got {source!r}"
        )
    where: dict[str, list[str]] = {}
    bad = []
    for key, _, phn_path in items:
        if not phn_path:
            continue
        try:
            segments = alignments.read_phn(phn_path)
        except (ValueError, OSError, UnicodeDecodeError) as e:
            bad.append([key, str(e)])
            continue
        for symbol in {p for _, _, p in segments}:
            where.setdefault(symbol, []).append(str(phn_path))
    if source is None:
        source = phones.detect_source(where) if where else "phone"
    phones.check_symbols(where, source)
    return source, bad


def _extract_chunk(chunk, config: FeatureConfig, source: phones.Source) -> list[list[str]]:
    """Compute and save a chunk of files; return [key, reason] for each failure."""
    from jaxcnn.audio import alignments, cache

    failures = []
    for key, out, audio_path, phn_path, fp in chunk:
        try:
            data, file_sr = read_audio(audio_path)  # raises ValueError for a bad file
            y = data.mean(axis=1)  # mix down
            if file_sr != SAMPLE_RATE:
                y = librosa.resample(y, orig_sr=file_sr, target_sr=SAMPLE_RATE)
            y = np.ascontiguousarray(y, np.float32)
            feats = compute(y, SAMPLE_RATE, config)
            if phn_path:
                segments = alignments.read_phn(phn_path)
                # .phn positions count samples of the file as stored, at its own rate.
                alignments.check_segments(segments, data.shape[0], "extract")
                if file_sr != SAMPLE_RATE:
                    segments = alignments.rescale(segments, file_sr, SAMPLE_RATE)
                labels = alignments.frame_labels(
                    segments, feats.shape[0], hop=HOP, num_samples=len(y), source=source
                )
            else:
                labels = np.full(feats.shape[0], -1, np.int32)
        except (ValueError, TypeError, OSError, RuntimeError) as e:
            failures.append([key, str(e)])
            continue
        cache.write_entry(out, key, fp, feats, labels)
    return failures
