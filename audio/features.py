"""Audio loading, MFCC / log-mel (MFSC) features, deltas and per-utterance CMVN.

Settings follow the notes: 16 kHz audio, 25 ms Hann window (``n_fft = win = 400``), 10 ms hop
(160), 40 mel bands, 40 coefficients. Framing is librosa's ``center=True`` (zero padding of
``n_fft // 2`` each side), so frame ``t`` is centred on sample ``t * 160`` and an utterance of
``n`` samples has ``1 + n // 160`` frames. The STFT, dB scale and DCT are written out here in
NumPy; the tests check them against ``librosa.feature.mfcc``.
"""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import scipy.fft
import scipy.signal
import soundfile

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


def load_audio(path, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Read a WAV / FLAC (anything libsndfile reads), mix to mono and resample to ``sr``.

    Args:
      path: the audio file.
      sr: target sample rate in Hz.

    Returns:
      float32 ``(num_samples,)`` in [-1, 1].

    Raises:
      ValueError: a missing, empty, truncated or non-audio file, or one with no samples
        (the message names the file).
    """
    try:
        data, file_sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
        raise ValueError(f"load_audio: {path} must be a readable audio file, got error: {e}") from e
    if data.shape[0] == 0:
        raise ValueError(f"load_audio: {path} must contain audio samples, got 0 samples")
    y = data.mean(axis=1)
    if file_sr != sr:
        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr)
    return np.ascontiguousarray(y, dtype=np.float32)


def compute(y: np.ndarray, sr: int = SAMPLE_RATE, config: FeatureConfig = FeatureConfig()):
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


def extract(items, cache_dir, config: FeatureConfig = FeatureConfig(), *, workers: int = 2,
            progress: bool | None = None, source: str = "espeak") -> dict:  # fmt: skip
    """Features (and frame labels) of many files in parallel worker processes, cached as .npz.

    Each item's output is ``cache_dir/{key}.npz`` (``allow_pickle=False``) with ``features``
    float32 (T, D), ``labels`` int32 (T,) (all -1 without an alignment), ``dim`` and ``config``
    (JSON). Files already there with the same config are not recomputed. Writes are atomic
    (temp + ``os.replace``). A file that cannot be read or labelled is skipped and logged.

    Args:
      items: sequence of ``(key, audio_path, phn_path_or_None)``; ``key`` names the output.
      cache_dir: output folder (created).
      config: feature settings.
      workers: processes ("spawn" context; 1 runs in this process).
      progress: tqdm bar (None: only on a TTY).
      source: symbol set of the ``.phn`` files ("espeak", "timit" or "phone").

    Returns:
      {"paths": [npz path per successful item, in item order], "skipped": [[key, reason]],
       "computed": int, "cached": int}.

    Raises:
      ValueError: bad workers or duplicate keys.
    """
    import concurrent.futures
    import json
    import logging
    import multiprocessing
    import sys
    from pathlib import Path

    from tqdm import tqdm

    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"extract: workers must be a positive int, got {workers!r}")
    keys = [k for k, _, _ in items]
    if len(set(keys)) != len(keys):
        raise ValueError("extract: item keys must be unique, got duplicates")
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    wanted = json.dumps(dataclasses.asdict(config), sort_keys=True)
    todo, cached = [], 0
    for key, audio_path, phn_path in items:
        out = cache_dir / f"{key}.npz"
        if out.exists() and _cached_config(out) == wanted:
            cached += 1
        else:
            todo.append((str(out), str(audio_path), phn_path and str(phn_path)))
    chunks = [todo[i : i + 16] for i in range(0, len(todo), 16)]
    show = sys.stderr.isatty() if progress is None else progress
    skipped = []
    with tqdm(total=len(todo), desc="features", disable=not show) as bar:
        if workers == 1 or len(chunks) <= 1:
            for c in chunks:
                skipped += _extract_chunk(c, config, source)
                bar.update(len(c))
        else:
            ctx = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                futures = {pool.submit(_extract_chunk, c, config, source): c for c in chunks}
                for f in concurrent.futures.as_completed(futures):
                    skipped += f.result()
                    bar.update(len(futures[f]))
    log = logging.getLogger(__name__)
    bad = {s[0] for s in skipped}
    for path, reason in skipped:
        log.warning("features: skipped %s: %s", path, reason)
    if skipped:
        log.warning("features: skipped %d of %d files", len(skipped), len(items))
    paths = [str(cache_dir / f"{k}.npz") for k in keys if str(cache_dir / f"{k}.npz") not in bad]
    skipped = [[Path(p).stem, r] for p, r in skipped]
    return {"paths": paths, "skipped": skipped, "computed": len(todo) - len(bad), "cached": cached}


def _cached_config(path) -> str | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return str(z["config"])
    except (OSError, ValueError, KeyError):
        return None


def _extract_chunk(chunk, config: FeatureConfig, source: str) -> list[tuple[str, str]]:
    """Compute and save a chunk of files; return (output path, reason) for each failure."""
    import json
    import os
    import tempfile

    from jaxcnn.audio import alignments

    failures = []
    for out, audio_path, phn_path in chunk:
        try:
            y = load_audio(audio_path)  # raises ValueError for a bad file
            info = soundfile.info(audio_path)
            feats = compute(y, SAMPLE_RATE, config)
            if phn_path:
                segments = alignments.read_phn(phn_path)
                # .phn positions count samples of the file as stored, at its own rate.
                alignments.check_segments(segments, info.frames, "extract")
                if info.samplerate != SAMPLE_RATE:
                    segments = alignments.rescale(segments, info.samplerate, SAMPLE_RATE)
                labels = alignments.frame_labels(
                    segments, feats.shape[0], hop=HOP, num_samples=len(y), source=source
                )
            else:
                labels = np.full(feats.shape[0], -1, np.int32)
        except (ValueError, TypeError, OSError, RuntimeError) as e:
            failures.append((out, str(e)))
            continue
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(out), suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                features=feats,
                labels=labels,
                dim=np.int64(feats.shape[1]),
                config=np.str_(json.dumps(dataclasses.asdict(config), sort_keys=True)),
            )
        os.replace(tmp, out)
    return failures
