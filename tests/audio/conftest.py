"""Shared fixtures: real synthesised utterances (espeak-ng), made once per session."""

import numpy as np
import pytest
import scipy.signal


@pytest.fixture(scope="session")
def utterance():
    """A 16 kHz utterance with its espeak-ng alignment: (y float64, segments at 16 kHz)."""
    pytest.importorskip("espeakng_loader")
    from jaxcnn.audio import alignments, espeak

    text = "She sells sea shells; the fish swim past a sunny shore."
    pcm, sr, segments = espeak.synthesize(text, espeak.Speaker("en-us", "m3", 150, 50))
    y = scipy.signal.resample_poly(pcm.astype(np.float64) / 32768.0, 16000, sr)
    segments = alignments.rescale(segments, sr, 16000)
    segments[-1] = (segments[-1][0], len(y), segments[-1][2])
    return y, segments
