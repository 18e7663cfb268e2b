import logging

import librosa
import numpy as np
import pytest
import soundfile
from jaxcnn.audio import features


def test_mfcc_agrees_with_librosa(utterance):
    y, _ = utterance
    ours = features.compute(y.astype(np.float32), 16000, features.FeatureConfig(cmvn=False))
    ref = librosa.feature.mfcc(
        y=y.astype(np.float32), sr=16000, n_mfcc=40, n_fft=400, hop_length=160,
        win_length=400, n_mels=40,
    ).T  # fmt: skip
    assert ours.shape == ref.shape == (1 + len(y) // 160, 40)
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=2e-2)


def test_mfsc_agrees_with_librosa_log_mel(utterance):
    y, _ = utterance
    y = y.astype(np.float32)
    ours = features.compute(y, 16000, features.FeatureConfig(kind="mfsc", cmvn=False))
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=400, hop_length=160, n_mels=40)
    np.testing.assert_allclose(ours, librosa.power_to_db(mel).T, atol=2e-2)


def test_deltas_and_cmvn(utterance):
    y, _ = utterance
    y = y.astype(np.float32)
    plain = features.compute(y, 16000, features.FeatureConfig(cmvn=False))
    both = features.compute(y, 16000, features.FeatureConfig(deltas=2, cmvn=False))
    assert both.shape == (plain.shape[0], 120)
    np.testing.assert_allclose(both[:, 40:80], librosa.feature.delta(plain, axis=0), atol=1e-3)
    normed = features.compute(y, 16000, features.FeatureConfig(deltas=1))
    np.testing.assert_allclose(normed.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(normed.std(0), 1, atol=1e-3)


def test_load_audio_resamples(tmp_path, utterance):
    y, _ = utterance
    path = tmp_path / "u.flac"
    soundfile.write(path, librosa.resample(y, orig_sr=16000, target_sr=22050), 22050)
    back = features.load_audio(path)
    assert abs(len(back) - len(y)) <= 2
    assert np.corrcoef(back[: len(y) - 2], y[: len(y) - 2])[0, 1] > 0.99


def test_bad_files(tmp_path, utterance):
    y, _ = utterance
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio at all, just text " * 20)
    good = tmp_path / "good.wav"
    soundfile.write(good, y, 16000, subtype="PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:30])  # cut inside the header
    for path in (empty, text, truncated, tmp_path / "missing.wav"):
        with pytest.raises(ValueError, match=f"load_audio: .*{path.name} must be"):
            features.load_audio(path)
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(0), 16000)
    with pytest.raises(ValueError, match="must contain audio samples, got 0"):
        features.load_audio(silent)


def test_bad_arrays():
    y = np.zeros(1600, np.float32)
    with pytest.raises(ValueError, match="compute: sr must be 16000 .* got 8000"):
        features.compute(y, 8000)
    with pytest.raises(ValueError, match="y must be finite"):
        features.compute(np.full(1600, np.nan, np.float32))
    with pytest.raises(ValueError, match="rank 1"):
        features.compute(np.zeros((2, 1600), np.float32))
    with pytest.raises(TypeError, match="floating dtype"):
        features.compute(np.zeros(1600, np.int16))
    with pytest.raises(ValueError, match="non-empty"):
        features.compute(np.zeros(0, np.float32))
    with pytest.raises(ValueError, match="kind must be one of"):
        features.compute(y, 16000, features.FeatureConfig(kind="plp"))
    with pytest.raises(ValueError, match="cmvn: features must be finite"):
        features.cmvn(np.array([[np.nan, 1.0]]))
    with pytest.raises(TypeError, match="compute: config.num must be an int, got float 3.5"):
        features.compute(y, 16000, features.FeatureConfig(num=3.5))  # was a slicing TypeError


def test_log_mel_checks_its_input():
    assert features.log_mel(np.zeros(1600)).shape == (11, 40)
    # a (channels, samples) array was framed along the wrong axis: a broadcasting error
    with pytest.raises(
        ValueError, match=r"log_mel: y must have rank 1 \(num_samples,\), got shape \(2, 1600\)"
    ):
        features.log_mel(np.zeros((2, 1600)))
    with pytest.raises(TypeError, match="log_mel: y must have a floating dtype, got int16"):
        features.log_mel(np.zeros(1600, np.int16))  # raw PCM: was accepted, 32768x too loud
    with pytest.raises(ValueError, match="log_mel: y must be non-empty"):
        features.log_mel(np.zeros(0))
    with pytest.raises(ValueError, match="log_mel: y must be finite"):
        features.log_mel(np.full(1600, np.inf))


def test_extract_caches_and_skips_bad_files(tmp_path, utterance, caplog):
    from jaxcnn.audio import alignments

    y, segments = utterance
    wav, phn = tmp_path / "a.wav", tmp_path / "a.phn"
    soundfile.write(wav, y, 16000, subtype="PCM_16")
    alignments.write_phn(phn, segments)
    bad_phn = tmp_path / "b.phn"
    alignments.write_phn(bad_phn, [(0, 100, "_"), (100, len(y) + 500, "s")])  # past the end
    junk = tmp_path / "c.wav"
    junk.write_text("not audio")
    items = [("a", wav, phn), ("b", wav, bad_phn), ("c", junk, None)]
    with caplog.at_level(logging.WARNING):
        out = features.extract(items, tmp_path / "cache", workers=1)
    assert out["paths"] == [out["path_of"]["a"]] and list(out["path_of"]) == ["a"]
    assert sorted(k for k, _ in out["skipped"]) == ["b", "c"]
    assert "skipped 2 of 3 files" in caplog.text
    with np.load(out["paths"][0], allow_pickle=False) as z:
        labels = alignments.frame_labels(segments, z["features"].shape[0], source="espeak")
        np.testing.assert_array_equal(z["labels"], labels)
    again = features.extract(items[:1], tmp_path / "cache", workers=1)
    assert again["cached"] == 1 and again["computed"] == 0
