"""Acceptance: the speech experiment on a user's own TIMIT-layout corpus folder."""

import json

import numpy as np
import pytest
from jaxcnn.audio import alignments, corpus_folder, phones
from jaxcnn.experiments import mfcc_frames


@pytest.fixture(scope="module")
def timit_dir(tmp_path_factory):
    """4 espeak-ng speakers x 4 sentences, TIMIT layout, SPHERE 16 kHz and RIFF 8 kHz audio."""
    pytest.importorskip("espeakng_loader")
    from jaxcnn.audio import demo_corpus

    root = tmp_path_factory.mktemp("timit")
    demo_corpus.write_demo_timit(root)
    return root


def test_corpus_run_reports_accuracy_and_per(timit_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("JAXCNN_DATA", str(tmp_path / "data_home"))
    before = sorted(p.relative_to(timit_dir) for p in timit_dir.rglob("*"))
    argv = ["--corpus", str(timit_dir), "--quick", "--models", "mlp", "--workdir",
            str(tmp_path / "run"), "--workers", "1"]  # fmt: skip
    summary = mfcc_frames.main(argv)
    data = summary["data"]
    assert data["phone_source"] == "timit"  # detected from the .PHN symbols
    assert data["skipped_features"] == 0 and data["unaligned"] == 0
    assert data["speakers"] == {"train": 2, "dev": 1, "test": 1}  # TIMIT's TEST, dev from TRAIN
    assert data["utterances"] == 16 and min(data["frames"].values()) > 500
    (row,) = summary["rows"]
    assert row["model"] == "mlp" and row["params"] == 158_474
    assert 0.0 <= row["test_accuracy"] <= row["test_phone_accuracy"] <= 1.0
    assert 0.0 < row["test_per_39"] and 0.0 < row["test_per_39_argmax"]
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk["rows"][0]["test_per_39"] == pytest.approx(row["test_per_39"])
    table = (tmp_path / "run" / "results.md").read_text()
    assert "test_per_39" in table and "| mlp |" in table
    # The corpus folder is read only; the cache went under the workdir's data folder.
    assert sorted(p.relative_to(timit_dir) for p in timit_dir.rglob("*")) == before
    assert list((tmp_path / "run" / "data" / "corpora").iterdir())


def test_changing_one_phn_changes_the_labels(timit_dir, tmp_path):
    from jaxcnn.audio import features

    utts = [u for u in corpus_folder.read_corpus(timit_dir) if u.audio.endswith(".wav")]
    u = utts[0]  # an 8 kHz RIFF utterance
    items = [(u.id, u.audio, u.phn)]
    first = features.extract(items, tmp_path / "cache", workers=1)
    with np.load(first["path_of"][u.id]) as z:
        before = z["labels"].copy()
    original = alignments.read_phn(u.phn)
    try:
        # swap iy and ih everywhere in this one .phn
        changed = [(s, e, "ih" if p == "iy" else "iy" if p == "ih" else p) for s, e, p in original]
        assert changed != original
        alignments.write_phn(u.phn, changed)
        second = features.extract(items, tmp_path / "cache", workers=1)
        assert second["computed"] == 1
        with np.load(second["path_of"][u.id]) as z:
            after = z["labels"].copy()
    finally:
        alignments.write_phn(u.phn, original)
    assert after.shape == before.shape and not np.array_equal(after, before)
    iy, ih = phones.PHONE_INDEX["iy"], phones.PHONE_INDEX["ih"]  # 1 and 2: states 3-5, 6-8
    phone = before // 3
    swapped = np.where(phone == iy, before + 3, np.where(phone == ih, before - 3, before))
    np.testing.assert_array_equal(after, swapped)
