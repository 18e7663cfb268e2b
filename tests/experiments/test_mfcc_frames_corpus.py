"""Acceptance: a user's own TIMIT-layout corpus; a changed .phn re-labels.

The full run (``mfcc_frames --corpus`` on a synthesised TIMIT-layout corpus of SPHERE and 8 kHz
WAV files) is ``tests/experiments/test_docs_own_corpus.py``, which runs the documented commands.
"""

import numpy as np
import pytest
from jaxcnn.audio import alignments, corpus_folder, phones


@pytest.fixture(scope="module")
def timit_dir(tmp_path_factory):
    """4 espeak-ng speakers x 4 sentences, TIMIT layout, SPHERE 16 kHz and RIFF 8 kHz audio."""
    pytest.importorskip("espeakng_loader")
    from jaxcnn.audio import demo_corpus

    root = tmp_path_factory.mktemp("timit")
    demo_corpus.write_demo_timit(root)
    return root


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


def test_a_changed_phn_changes_the_experiments_banks_and_data_fingerprint(timit_dir, tmp_path):
    """Through ``mfcc_frames --corpus``'s data path: the edited utterance's frames in the
    training bank are re-labelled, nothing else moves, and the data fingerprint (which keys the
    finished-model caches) changes, so the models would retrain."""
    import dataclasses

    from jaxcnn.experiments import mfcc_frames

    config = dataclasses.replace(
        mfcc_frames.get_config(quick=True), corpus_dir=str(timit_dir), workers=1
    )
    before, banks = mfcc_frames.prepare_data(config, tmp_path)
    train = [u for u in corpus_folder.read_corpus(timit_dir) if u.split == "train"]
    edited = train[0]  # the training bank's utterance 0 (banks follow read_corpus's order)
    original = alignments.read_phn(edited.phn)
    try:
        changed = [(s, e, "ih" if p == "iy" else "iy" if p == "ih" else p) for s, e, p in original]
        assert changed != original
        alignments.write_phn(edited.phn, changed)
        after, new_banks = mfcc_frames.prepare_data(config, tmp_path)
    finally:
        alignments.write_phn(edited.phn, original)
    assert before["fingerprint"] != after["fingerprint"] and after["frames"] == before["frames"]
    old, new = banks["train"][0], new_banks["train"][0]
    np.testing.assert_array_equal(old.bank, new.bank)  # same audio: same features
    mine = old.utterance == 0
    phone = old.labels // 3
    iy, ih = phones.PHONE_INDEX["iy"], phones.PHONE_INDEX["ih"]
    swapped = np.where(
        phone == iy, old.labels + 3, np.where(phone == ih, old.labels - 3, old.labels)
    )
    np.testing.assert_array_equal(new.labels[mine], swapped[mine])
    assert not np.array_equal(new.labels[mine], old.labels[mine])
    np.testing.assert_array_equal(new.labels[~mine], old.labels[~mine])
    for split in ("dev", "test"):
        np.testing.assert_array_equal(new_banks[split][0].labels, banks[split][0].labels)
