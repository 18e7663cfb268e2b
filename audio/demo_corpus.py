"""A small TIMIT-layout corpus made with espeak-ng, to try the own-corpus path without TIMIT.

``TRAIN/DR1/<speaker>/<utt>`` and ``TEST/DR1/<speaker>/<utt>``, each utterance an audio file,
a ``.PHN`` in TIMIT's 61 symbols and a ``.TXT`` transcript (TIMIT's ``0 <end> text`` format).
Audio alternates between NIST SPHERE at 16 kHz (``.WAV``, as TIMIT ships) and RIFF WAV at
8 kHz (``.wav``, with ``.phn`` positions in 8 kHz samples), so both readers and the rescaling of
alignments are exercised. Needs the optional ``espeakng-loader`` package.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SENTENCES = (
    "She had your dark suit in greasy wash water all year.",
    "Don't ask me to carry an oily rag like that.",
    "The fish swam past a sunny shore.",
    "A big dog ran over the hill to fetch the ball.",
)


def write_demo_timit(
    root: str | os.PathLike,
    *,
    train_speakers: int = 3,
    test_speakers: int = 1,
    sentences: tuple[str, ...] = SENTENCES,
) -> list[str]:
    """Synthesise the corpus under ``root`` (speakers are distinct espeak-ng voices).

    Args:
      root: output folder (created).
      train_speakers, test_speakers: speakers in ``TRAIN`` and ``TEST`` (at most 8 in all).
      sentences: what every speaker reads.

    Returns:
      The written audio paths, in order.

    Raises:
      ValueError: more speakers than voices, or none.
      ImportError: espeakng_loader is not installed.
    """
    import scipy.signal
    import soundfile
    from jaxcnn.audio import alignments, espeak, phones, sphere

    voices = espeak.ENGLISH_VOICES
    total = train_speakers + test_speakers
    if not (train_speakers >= 1 and test_speakers >= 1 and total <= len(voices)):
        raise ValueError(
            f"write_demo_timit: speakers must be >= 1 each and <= {len(voices)} in all, got "
            f"{train_speakers} + {test_speakers}"
        )
    written = []
    for k in range(total):
        part = "TRAIN" if k < train_speakers else "TEST"
        folder = Path(root) / part / "DR1" / f"{'MF'[k % 2]}SPK{k}"
        folder.mkdir(parents=True, exist_ok=True)
        speaker = espeak.Speaker(voices[k], "", 150 + 10 * k, 50)
        for j, text in enumerate(sentences):
            pcm, sr, segments = espeak.synthesize(text, speaker)
            y = scipy.signal.resample_poly(pcm.astype(np.float64), 16000, sr)
            segments = alignments.rescale(segments, sr, 16000)
            segments[-1] = (segments[-1][0], len(y), segments[-1][2])
            timit = _to_timit(segments, phones)
            name = f"SX{10 * k + j}"
            if j % 2 == 0:  # SPHERE, 16 kHz, TIMIT's upper-case names
                out = folder / f"{name}.WAV"
                sphere.write_sphere(out, _int16(y), 16000)
                alignments.write_phn(folder / f"{name}.PHN", timit)
            else:  # RIFF WAV at 8 kHz, .phn in 8 kHz samples
                y8 = scipy.signal.resample_poly(y, 1, 2)
                out = folder / f"{name.lower()}.wav"
                soundfile.write(out, _int16(y8), 8000, subtype="PCM_16")
                timit8 = alignments.rescale(timit, 16000, 8000)
                timit8[-1] = (timit8[-1][0], len(y8), timit8[-1][2])
                alignments.write_phn(folder / f"{name.lower()}.phn", timit8)
            (out.with_suffix(".TXT" if j % 2 == 0 else ".txt")).write_text(
                f"0 {len(y)} {text}\n", encoding="utf-8"
            )
            written.append(str(out))
    return written


def _to_timit(segments, phones) -> list[tuple[int, int, str]]:
    """espeak-ng symbols -> TIMIT's: our phone names are TIMIT symbols; silence is h# at the
    ends and pau inside; neighbours that become the same symbol are merged."""
    out: list[tuple[int, int, str]] = []
    for i, (start, end, symbol) in enumerate(segments):
        phone = phones.to_phone(symbol, "espeak")
        if phone == phones.SILENCE:
            phone = "h#" if i in (0, len(segments) - 1) else "pau"
        if out and out[-1][2] == phone:
            out[-1] = (out[-1][0], end, phone)
        else:
            out.append((start, end, phone))
    return out


def _int16(y: np.ndarray) -> np.ndarray:
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def main(argv: list[str] | None = None) -> list[str]:
    """``python -m jaxcnn.audio.demo_corpus FOLDER``: write the demo corpus into FOLDER."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="output folder (created)")
    args = parser.parse_args(argv)
    written = write_demo_timit(args.folder)
    print(f"wrote {len(written)} utterances under {args.folder}")
    return written


if __name__ == "__main__":
    main()
