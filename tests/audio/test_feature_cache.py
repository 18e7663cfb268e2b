"""features.extract's cache: keys, staleness, damage, missing alignments, the symbol source."""

import logging
import subprocess
import sys

import numpy as np
import pytest
import soundfile
from jaxcnn.audio import alignments, features, windows

SEGMENTS = [(0, 2400, "h#"), (2400, 5600, "sh"), (5600, 8000, "iy")]  # TIMIT symbols, 16 kHz


def _corpus(folder, n=1, segments=SEGMENTS):
    """n noise utterances (0.5 s at 16 kHz) with TIMIT .phn files: [(wav, phn)]."""
    out = []
    for i in range(n):
        wav, phn = folder / f"u{i}.wav", folder / f"u{i}.phn"
        y = np.random.default_rng(i).normal(0.0, 0.1, 8000)
        soundfile.write(wav, y, 16000, subtype="PCM_16")
        alignments.write_phn(phn, segments)
        out.append((wav, phn))
    return out


def _labels(path):
    with np.load(path, allow_pickle=False) as z:
        return z["labels"].copy(), z["features"].copy()


def test_any_key_works_and_nothing_is_written_outside_the_cache(tmp_path):
    ((wav, phn),) = _corpus(tmp_path)
    cache = tmp_path / "deep" / "cache"
    keys = ["spk1/utt1", "../escaped", "..", "/abs/x", "ünïcødé/話者", "a b?c*"]
    before = set(tmp_path.rglob("*"))
    out = features.extract([(k, wav, phn) for k in keys], cache, workers=1)
    assert sorted(out["path_of"]) == sorted(keys) and not out["skipped"]  # was FileNotFoundError
    new = set(tmp_path.rglob("*")) - before
    assert all(p == cache or cache in p.parents or p == cache.parent for p in new)
    assert all(p.parent == cache for p in map(type(cache), out["path_of"].values()))
    assert len(set(out["path_of"].values())) == len(keys)  # distinct entries
    reference = _labels(out["path_of"]["spk1/utt1"])
    for path in out["path_of"].values():
        np.testing.assert_array_equal(_labels(path)[0], reference[0])


def test_a_changed_phn_relabels(tmp_path):
    ((wav, phn),) = _corpus(tmp_path)
    cache = tmp_path / "cache"
    first = features.extract([("u", wav, phn)], cache, workers=1)
    before, feats = _labels(first["path_of"]["u"])
    alignments.write_phn(phn, [(0, 2400, "h#"), (2400, 5600, "s"), (5600, 8000, "aa")])
    second = features.extract([("u", wav, phn)], cache, workers=1)
    assert second["computed"] == 1 and second["cached"] == 0  # was reused: stale labels
    after, _ = _labels(second["path_of"]["u"])
    expected = alignments.frame_labels(
        alignments.read_phn(phn), feats.shape[0], num_samples=8000, source="timit"
    )
    np.testing.assert_array_equal(after, expected)
    assert not np.array_equal(after, before)
    third = features.extract([("u", wav, phn)], cache, workers=1)
    assert third["cached"] == 1 and third["computed"] == 0


@pytest.mark.parametrize("damage", ["truncated", "garbled", "zeroed", "empty", "wrong arrays"])
def test_damaged_entries_are_recomputed_with_a_warning(tmp_path, caplog, damage):
    ((wav, phn),) = _corpus(tmp_path)
    cache = tmp_path / "cache"
    path = features.extract([("u", wav, phn)], cache, workers=1)["path_of"]["u"]
    good = open(path, "rb").read()
    damaged = {
        "truncated": good[: len(good) // 2],
        "garbled": good[:100] + bytes(255 - b for b in good[100:]),
        "zeroed": bytes(len(good)),
        "empty": b"",
    }
    if damage == "wrong arrays":
        np.savez(open(path, "wb"), features=np.zeros(3))
    else:
        open(path, "wb").write(damaged[damage])
    # A damaged entry given straight to build_bank: a ValueError naming it and the fix.
    with pytest.raises(ValueError, match="run audio.features.extract again|must hold arrays"):
        windows.build_bank([path])
    with caplog.at_level(logging.WARNING):
        out = features.extract([("u", wav, phn)], cache, workers=1)
    assert out["recomputed_bad"] == 1 and out["computed"] == 1
    assert "damaged cache entry" in caplog.text
    assert open(path, "rb").read() == good
    assert windows.build_bank([path]).size > 0


def test_unaligned_utterances_are_reported_and_left_out(tmp_path, caplog):
    pairs = _corpus(tmp_path, n=3)
    items = [("u0", pairs[0][0], pairs[0][1]), ("u1", pairs[1][0], None), ("u2", pairs[2][0], None)]
    with caplog.at_level(logging.WARNING):
        out = features.extract(items, tmp_path / "cache", workers=1)
    assert out["unaligned"] == ["u1", "u2"]
    assert "2 of 3 utterances have no alignment" in caplog.text and "u1, u2" in caplog.text
    assert out["paths"] == [out["path_of"]["u0"]]  # the training list holds only u0
    with pytest.raises(ValueError, match="at least one labelled frame, got 0 of"):
        windows.build_bank([out["path_of"]["u1"], out["path_of"]["u2"]])  # was a 0-example bank
    with pytest.raises(ValueError, match="at least one labelled frame"):
        windows.build_bank([(np.zeros((5, 40), np.float32), np.full(5, -1, np.int32))])


def test_source_is_taken_from_the_data_and_unknown_symbols_raise_once(tmp_path):
    ((wav, phn),) = _corpus(tmp_path)
    out = features.extract([("u", wav, phn)], tmp_path / "cache", workers=1)
    assert out["source"] == "timit" and not out["skipped"]  # was: every TIMIT file skipped
    labels, feats = _labels(out["paths"][0])
    np.testing.assert_array_equal(
        labels, alignments.frame_labels(SEGMENTS, feats.shape[0], source="timit")
    )
    other = tmp_path / "other.phn"
    alignments.write_phn(other, [(0, 4000, "h#"), (4000, 6000, "xx"), (6000, 8000, "yy")])
    bad = tmp_path / "bad.phn"
    alignments.write_phn(bad, [(0, 4000, "xx"), (4000, 8000, "iy")])
    items = [("u", wav, phn), ("o", wav, other), ("b", wav, bad)]
    with pytest.raises(ValueError, match="2 unknown symbol") as info:
        features.extract(items, tmp_path / "cache", workers=1)
    assert f"'xx' in 2 file(s): {bad}, {other}" in str(info.value)
    assert f"'yy' in 1 file(s): {other}" in str(info.value)
    with pytest.raises(ValueError, match="source must be one of"):
        features.extract(items[:1], tmp_path / "cache", workers=1, source="klingon")


def test_workers_without_a_main_guard_give_a_clear_error(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(
        "from jaxcnn.audio import _pool\n\n"
        "def double(x):\n    return 2 * x\n\n"
        "print(list(_pool.run(double, [(1,), (2,)], 2, what='extract')))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode != 0
    assert 'put the calling code under `if __name__ == "__main__":`' in done.stderr
    guarded = tmp_path / "guarded.py"
    guard = "if __name__ == '__main__':\n    print("
    guarded.write_text(script.read_text().replace("print(", guard))
    done = subprocess.run(
        [sys.executable, str(guarded)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0 and done.stdout.strip() == "[2, 4]"


def test_a_truncated_corpus_manifest_is_rebuilt_not_a_crash(tmp_path, caplog):
    from jaxcnn.audio import corpus

    path = tmp_path / "manifest.json"
    path.write_text('{"config": {"num_speakers": 2}, "utterances": [{"id": "a", "wa')
    with caplog.at_level(logging.WARNING):
        assert corpus.read_manifest(path) is None  # build() then synthesises again
    assert f"{path} is damaged" in caplog.text and "built again" in caplog.text
    path.write_text('{"config": {}, "utterances": []}')
    assert corpus.read_manifest(path) == {"config": {}, "utterances": []}
    assert corpus.read_manifest(tmp_path / "absent.json") is None


def test_an_added_phn_a_changed_audio_or_config_recompute(tmp_path):
    """Each input of the fingerprint on its own invalidates the entry (issue 20: stale cache)."""
    ((wav, phn),) = _corpus(tmp_path)
    cache = tmp_path / "cache"
    # Extracted once without an alignment: every label -1 ... (the source is given, so only the
    # .phn's own bytes tell the two calls apart)
    first = features.extract([("u", wav, None)], cache, workers=1, source="timit")
    unlabelled, feats = _labels(first["path_of"]["u"])
    assert first["unaligned"] == ["u"] and (unlabelled == -1).all()
    # ... then the .phn appears: labelled now, not -1 forever.
    second = features.extract([("u", wav, phn)], cache, workers=1, source="timit")
    assert second["computed"] == 1 and second["unaligned"] == []
    labels, _ = _labels(second["path_of"]["u"])
    np.testing.assert_array_equal(
        labels, alignments.frame_labels(SEGMENTS, feats.shape[0], source="timit")
    )
    # Other audio bytes, same name: new features (the labels follow the same .phn).
    soundfile.write(wav, np.random.default_rng(99).normal(0.0, 0.1, 8000), 16000, subtype="PCM_16")
    third = features.extract([("u", wav, phn)], cache, workers=1)
    assert third["computed"] == 1 and third["cached"] == 0
    new_labels, new_feats = _labels(third["path_of"]["u"])
    assert new_feats.shape == feats.shape and not np.allclose(new_feats, feats)
    np.testing.assert_array_equal(new_labels, labels)
    expected = features.compute(features.load_audio(wav))
    np.testing.assert_allclose(new_feats, expected, atol=1e-5)
    # Another feature config of the same width (log-mel instead of MFCC): recomputed, not taken
    # for valid because its shape fits; the same config again: reused.
    mfsc = features.FeatureConfig(kind="mfsc")
    fourth = features.extract([("u", wav, phn)], cache, mfsc, workers=1)
    assert fourth["computed"] == 1 and fourth["cached"] == 0
    np.testing.assert_allclose(
        _labels(fourth["path_of"]["u"])[1],
        features.compute(features.load_audio(wav), config=mfsc),
        atol=1e-5,
    )
    assert features.extract([("u", wav, phn)], cache, mfsc, workers=1)["cached"] == 1
