"""Corpus folders (TIMIT and generic layouts), NIST SPHERE, other sample rates, stereo."""

import numpy as np
import pytest
import soundfile
from jaxcnn.audio import alignments, corpus_folder, features, sphere


def _utterance(folder, stem, text=None, rate=16000, phn=True, suffix=".wav"):
    folder.mkdir(parents=True, exist_ok=True)
    soundfile.write(folder / f"{stem}{suffix}", np.zeros(rate // 10), rate, subtype="PCM_16")
    if phn:
        alignments.write_phn(folder / f"{stem}.phn", [(0, rate // 10, "h#")])
    if text is not None:
        (folder / f"{stem}.txt").write_text(text)


def test_generic_layout_split_by_speakers_is_deterministic(tmp_path):
    for s in range(10):
        for u in range(2):
            _utterance(tmp_path / "group" / f"spk{s}", f"u{u}")
    _utterance(tmp_path / "group" / "spk9", "no_alignment", phn=False)
    utts = corpus_folder.read_corpus(tmp_path)
    assert len(utts) == 21 and utts == corpus_folder.read_corpus(tmp_path)
    by_split = {}
    for u in utts:
        by_split.setdefault(u.split, set()).add(u.speaker)
    assert {k: len(v) for k, v in by_split.items()} == {"train": 7, "dev": 1, "test": 2}
    assert not (by_split["train"] & by_split["test"]) and not (by_split["dev"] & by_split["test"])
    assert next(u for u in utts if u.id == "group/spk9/no_alignment").phn is None
    assert {u.id for u in utts} >= {"group/spk0/u0", "group/spk9/u1"}


def test_generic_layout_split_by_sentences_keeps_a_text_in_one_split(tmp_path):
    texts = [f"Sentence number {k}." for k in range(10)]
    for s in range(4):
        for k, text in enumerate(texts):
            # the same text with other case / punctuation is the same sentence
            _utterance(tmp_path / f"spk{s}", f"u{k}", text=text.upper() if s else text)
    utts = corpus_folder.read_corpus(tmp_path, split="sentences")
    split_of_text = {}
    for u in utts:
        key = corpus_folder.normalise_text(u.text)
        assert split_of_text.setdefault(key, u.split) == u.split
    assert sorted(split_of_text.values()).count("test") == 2
    (tmp_path / "spk0" / "u0.txt").unlink()
    with pytest.raises(ValueError, match="needs a transcript .txt beside every utterance"):
        corpus_folder.read_corpus(tmp_path, split="sentences")
    with pytest.raises(ValueError, match="split must be one of"):
        corpus_folder.read_corpus(tmp_path, split="words")


def test_timit_layout_any_case_keeps_its_split_and_drops_sa(tmp_path):
    for part, speakers in (("train", ["FAAA0", "MBBB0", "MCCC0", "FDDD0"]), ("TEST", ["MEEE0"])):
        for spk in speakers:
            for stem in ("SA1", "SX1", "si2"):
                _utterance(tmp_path / part / "DR1" / spk, stem, suffix=".WAV")
    utts = corpus_folder.read_corpus(tmp_path)
    assert {u.split for u in utts if u.speaker == "MEEE0"} == {"test"}
    assert not any(u.id.endswith("SA1") for u in utts)
    dev = {u.speaker for u in utts if u.split == "dev"}
    assert len(dev) == 1 and dev < {"FAAA0", "MBBB0", "MCCC0", "FDDD0"}
    assert len(corpus_folder.read_corpus(tmp_path, keep_sa=True)) == 15


def test_too_few_speakers_and_no_audio(tmp_path):
    _utterance(tmp_path / "a", "u0")
    _utterance(tmp_path / "b", "u0")
    with pytest.raises(ValueError, match="needs more than 2 groups"):
        corpus_folder.read_corpus(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="must hold audio files"):
        corpus_folder.read_corpus(tmp_path / "empty")


def test_sphere_round_trip_and_refusals(tmp_path):
    pcm = (np.sin(np.arange(3000) / 7.0) * 12000).astype(np.int16)
    path = tmp_path / "x.WAV"
    sphere.write_sphere(path, pcm, 16000)
    assert path.read_bytes()[:16] == b"NIST_1A\n   1024\n"
    data, rate = sphere.read_sphere(path)
    assert rate == 16000 and data.shape == (3000, 1)
    np.testing.assert_array_equal(np.round(data[:, 0] * 32768).astype(np.int16), pcm)
    np.testing.assert_allclose(features.load_audio(path), pcm / 32768.0, atol=1e-6)
    # big-endian, as some SPHERE writers make
    header = path.read_bytes()[:1024].replace(b"-s2 01", b"-s2 10")
    path.write_bytes(header + pcm.astype(">i2").tobytes())
    np.testing.assert_array_equal(np.round(sphere.read_sphere(path)[0][:, 0] * 32768), pcm)
    shortened = path.read_bytes()[:1024].replace(b"-s3 pcm", b"-s26 pcm,embedded-shorten-v2.00")
    path.write_bytes(shortened + b"\0" * 100)
    with pytest.raises(ValueError, match="must be uncompressed PCM.*sph2pipe"):
        features.load_audio(path)
    path.write_bytes(b"NIST_1A\n   1024\nsample_count -i 99999\n")
    with pytest.raises(ValueError, match="header length must be"):
        features.load_audio(path)


def test_8khz_wav_and_stereo_are_resampled_with_their_alignment(tmp_path):
    rng = np.random.default_rng(0)
    y16 = rng.normal(0, 0.1, 16000)
    seg16 = [(0, 4000, "h#"), (4000, 10000, "s"), (10000, 16000, "iy")]
    soundfile.write(tmp_path / "a.wav", y16, 16000, subtype="PCM_16")
    alignments.write_phn(tmp_path / "a.phn", seg16)
    soundfile.write(tmp_path / "b.wav", y16[::2], 8000, subtype="PCM_16")
    alignments.write_phn(tmp_path / "b.phn", alignments.rescale(seg16, 16000, 8000))
    stereo = np.stack([y16, -0.5 * y16], axis=1)  # mixed down by averaging the channels
    soundfile.write(tmp_path / "c.wav", stereo, 16000, subtype="PCM_16")
    items = [(k, tmp_path / f"{k}.wav", tmp_path / "a.phn" if k == "c" else tmp_path / f"{k}.phn")
             for k in "abc"]  # fmt: skip
    out = features.extract(items, tmp_path / "cache", workers=1)
    assert not out["skipped"]
    labels = {}
    for k, path in out["path_of"].items():
        with np.load(path) as z:
            labels[k] = z["labels"]
    np.testing.assert_array_equal(labels["a"], labels["b"])  # 8 kHz positions were rescaled
    np.testing.assert_array_equal(labels["a"], labels["c"])
    np.testing.assert_allclose(
        features.load_audio(tmp_path / "c.wav"), 0.25 * y16, atol=2e-4
    )  # (1 - 0.5) / 2


def test_timit_layout_carves_dev_by_sentences_from_train(tmp_path):
    texts = [f"0 1600 Sentence {k} here." for k in range(10)]
    for part, speakers in (("TRAIN", ["MAAA0", "FBBB0"]), ("TEST", ["MCCC0"])):
        for spk in speakers:
            for k, text in enumerate(texts):
                _utterance(tmp_path / part / "DR2" / spk, f"SX{k}", text=text, suffix=".WAV")
    utts = corpus_folder.read_corpus(tmp_path, split="sentences")
    dev_texts = {u.text for u in utts if u.split == "dev"}
    assert len(dev_texts) == 1  # max(1, round(0.1 * 10)) sentences of TRAIN
    train = [u for u in utts if u.split == "train"]
    assert len(train) == 2 * 9 and not dev_texts & {u.text for u in train}
    assert {u.split for u in utts if u.speaker == "MCCC0"} == {"test"}
    cleaned = corpus_folder.normalise_text("0 46797 She had your DARK suit.")
    assert cleaned == "she had your dark suit"
