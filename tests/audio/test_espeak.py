"""The synthesiser's alignment lines up with its audio (checked with physics, not with itself)."""

import numpy as np
import pytest
from jaxcnn.audio import alignments, phones

pytest.importorskip("espeakng_loader")

from jaxcnn.audio import espeak  # noqa: E402

VOWELS = {"iy", "ih", "ix", "eh", "ae", "ah", "ax", "uw", "uh", "aa", "ao", "ey", "ay", "ow"}


def frame_stats(y):
    """Per-frame energy (dB) and spectral centroid (Hz) with 25 ms windows, 10 ms hop."""
    pad = np.pad(y, 200)
    n = 1 + len(y) // 160
    frames = np.stack([pad[t * 160 : t * 160 + 400] for t in range(n)]) * np.hanning(400)
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(400, 1 / 16000)
    energy = 10 * np.log10(spec.sum(1) + 1e-12)
    centroid = (spec * freqs).sum(1) / (spec.sum(1) + 1e-12)
    return energy, centroid


def test_labels_line_up_with_audio(utterance):
    y, segments = utterance
    energy, centroid = frame_stats(y)
    states = alignments.frame_labels(segments, len(energy), num_samples=len(y), source="espeak")
    names = np.array([phones.PHONES[s // 3] if s >= 0 else "-" for s in states])
    # Middle-state frames only: boundaries are smeared by the 25 ms window.
    middle = states % 3 == 1
    sil = (names == "sil") & middle
    vowel = np.isin(names, list(VOWELS)) & middle
    fric = np.isin(names, ["s", "sh"]) & middle
    assert sil.sum() >= 3 and vowel.sum() >= 20 and fric.sum() >= 10
    assert np.median(energy[sil]) < np.median(energy[vowel]) - 20
    assert np.median(centroid[fric]) > np.median(centroid[vowel]) + 1500


def test_alignment_covers_audio():
    pcm, sr, segments = espeak.synthesize("Hello world.")
    assert sr == 22050 and pcm.dtype == np.int16
    alignments.check_segments(segments, len(pcm), "test")
    assert segments[0][0] == 0 and segments[-1][1] == len(pcm)


def test_bad_speakers():
    with pytest.raises(ValueError, match="variant must be a file in .*got 'nosuch'"):
        espeak.synthesize("hi", espeak.Speaker(variant="nosuch"))
    with pytest.raises(ValueError, match="voice must be one of"):
        espeak.synthesize("hi", espeak.Speaker(voice="fr"))
    with pytest.raises(ValueError, match=r"rate must be an int in \[80, 450\], got 10"):
        espeak.synthesize("hi", espeak.Speaker(rate=10))
    with pytest.raises(ValueError, match="text must be a non-empty str"):
        espeak.synthesize("  ")
    assert "m3" in espeak.variants()
