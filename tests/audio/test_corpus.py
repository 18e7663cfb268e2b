import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from jaxcnn.audio import corpus

SMALL = "corpus.CorpusConfig(num_speakers=4, utterances_per_speaker=2, seed=7)"


def test_split_is_speaker_and_timbre_disjoint():
    plan = corpus.make_plan(corpus.CorpusConfig(num_speakers=300, utterances_per_speaker=2))
    by_split = {}
    for spk in plan["speakers"].values():
        by_split.setdefault(spk["split"], set()).add((spk["voice"], spk["variant"]))
    assert set(by_split) == {"train", "dev", "test"}
    assert not by_split["train"] & by_split["test"]
    assert not by_split["train"] & by_split["dev"]
    assert not by_split["dev"] & by_split["test"]
    texts = {s: set() for s in by_split}
    for spk, utts in plan["jobs"]:
        texts[spk["split"]] |= {u[1] for u in utts}
    assert not texts["train"] & texts["test"]


def test_plan_depends_on_seed_only():
    a = corpus.make_plan(corpus.CorpusConfig(num_speakers=6, utterances_per_speaker=2, seed=1))
    b = corpus.make_plan(corpus.CorpusConfig(num_speakers=6, utterances_per_speaker=2, seed=1))
    c = corpus.make_plan(corpus.CorpusConfig(num_speakers=6, utterances_per_speaker=2, seed=2))
    assert a == b and a != c


def digest(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.suffix in (".wav", ".phn")
    }


def test_corpus_reproducible_in_fresh_processes(tmp_path):
    pytest.importorskip("espeakng_loader")
    for name, workers in (("a", 2), ("b", 1)):  # the worker count must not matter
        code = (
            "from jaxcnn.audio import corpus; "
            f"corpus.build({str(tmp_path / name)!r}, {SMALL}, workers={workers})"
        )
        subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert len(a) == 16 and a == b
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert len(manifest["utterances"]) == 8 and manifest["skipped"] == []
    # A second build with the same config is a cache hit.
    again = corpus.build(tmp_path / "a", corpus.CorpusConfig(4, 2, seed=7))
    assert again == manifest
    # A corpus labelled under another phone mapping is rebuilt, to the same files.
    manifest["phone_mapping"] = "an older mapping"
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(manifest))
    rebuilt = corpus.build(tmp_path / "a", corpus.CorpusConfig(4, 2, seed=7))
    assert rebuilt["phone_mapping"] == corpus.phone_mapping_fingerprint()
    assert digest(tmp_path / "a") == a


def test_bad_config(tmp_path):
    with pytest.raises(ValueError, match="num_speakers must be a positive int, got 0"):
        corpus.build(tmp_path, corpus.CorpusConfig(num_speakers=0))
    with pytest.raises(ValueError, match="workers must be a positive int"):
        corpus.build(tmp_path, workers=0)
    with pytest.raises(ValueError, match="WordNet data"):
        corpus.wordnet_sentences(directory=tmp_path)


def test_too_few_sentences_is_a_value_error(monkeypatch):
    # was a ZeroDivisionError from an empty sentence pool
    with pytest.raises(ValueError, match=r"make_plan: the \w+ split must have sentences, got none"):
        corpus.make_plan(corpus.CorpusConfig(num_speakers=6, min_chars=50, max_chars=10))
    monkeypatch.setattr(corpus, "wordnet_sentences", lambda *a: ["a single sentence here"])
    with pytest.raises(ValueError, match="make_plan: the dev split must have sentences"):
        corpus.make_plan(corpus.CorpusConfig(num_speakers=40))


def test_fractions_that_leave_no_training_speakers(tmp_path):
    with pytest.raises(ValueError, match="summing to < 1, got 0.6, 0.5"):
        corpus.build(tmp_path, corpus.CorpusConfig(test_fraction=0.6, dev_fraction=0.5))
