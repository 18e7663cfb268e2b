"""Many processes: only process 0 writes an experiment's files (the others write nothing).

One test process plays process 1 (`tests.train.helpers.as_process`) and then process 0, for
the same run; the training and the data are stand-ins (what is checked is where the run's own
reporting writes, not its numbers; `tests/train/test_processes.py` runs `fit` on two real
processes). Process 0 writing the files is the control: the same run that writes them there
must write nothing on process 1.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np
from jaxcnn.audio import phones
from jaxcnn.experiments import mfcc_frames, protocol, text_conv
from jaxcnn.text.vocab import build_vocabulary

import jaxcnn.train
from tests.train.helpers import as_process

HISTORY = [{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5, "eval_accuracy": 0.4,
            "seconds": 0.1}]  # fmt: skip
# What the stand-in `fit` returns (the comparison protocol reads its history and variables).
RESULT = types.SimpleNamespace(num_params=10, variables={}, history=HISTORY, throughput=1.0,
                               compile_seconds=0.0, best_epoch=1, compiles=1)  # fmt: skip


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _run_as(monkeypatch, index, run, workdir):
    with monkeypatch.context() as m:
        as_process(m, index)
        run(workdir)
    return _files(workdir)


def test_text_conv_writes_on_process_0_only(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    labels = {"train": rng.integers(0, 45, 40), "test": rng.integers(0, 45, 20)}
    vocab = build_vocabulary(["a dog runs", "the red water"], min_freq=1, max_size=10)
    monkeypatch.setattr(text_conv, "load_data", lambda config: {
        "vocab": vocab, "labels": labels, "stats": {"examples": {"train": 40}},
        "train": [None], "dev": None, "test": None,
    })  # fmt: skip
    monkeypatch.setattr(text_conv, "make_classifier", lambda *a: None)
    monkeypatch.setattr(jaxcnn.train, "init_variables", lambda *a, **k: {})
    monkeypatch.setattr(jaxcnn.train, "fit", lambda *a, **k: RESULT)
    monkeypatch.setattr(text_conv, "bucket_logits", lambda model, variables, datasets: (
        rng.normal(size=(20, 45)), labels["test"]))  # fmt: skip
    monkeypatch.setattr(protocol, "flops_per_example", lambda *a: 1)
    monkeypatch.setattr(text_conv, "linear_baseline", lambda *a: {
        "model": "tf-idf", "test_accuracy": 0.35, "test_ci95": [0.25, 0.45], "C": 1.0,
        "dev_accuracy": 0.3, "features": 5,
    })  # fmt: skip
    config = dataclasses.replace(
        text_conv.get_config(quick=True),
        classifiers=("bag_of_embeddings",),
        language_models=(),
        sweep=(),
    )

    def run(workdir):
        return text_conv.run(config, str(workdir))

    assert _run_as(monkeypatch, 1, run, tmp_path / "p1") == []
    written = _run_as(monkeypatch, 0, run, tmp_path / "p0")
    assert {"vocab.json", "results.json", "results.md", "learning_curves.png"} <= set(written)


def test_mfcc_frames_writes_on_process_0_only(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)

    def bank(n):  # 2 utterances of n // 2 frames
        labels = rng.integers(0, phones.NUM_STATES, n)
        return types.SimpleNamespace(labels=labels, utterance=np.repeat([0, 1], n // 2)), \
            types.SimpleNamespace(size=n)  # fmt: skip

    banks = {"train": bank(60), "dev": bank(20), "test": bank(40)}
    data = {"fingerprint": "f", "corpus_dir": "c", "hours": 0.01,
            "frames": {"train": 60, "test": 40}, "speakers": {"test": 1}}  # fmt: skip
    monkeypatch.setattr(mfcc_frames, "prepare_data", lambda config, out: (dict(data), banks))
    monkeypatch.setattr(mfcc_frames, "_make", lambda name: name)
    monkeypatch.setattr(mfcc_frames, "_linear", lambda *a: {
        "model": "linear", "test_accuracy": 0.1, "test_ci95": [0.05, 0.15]
    })  # fmt: skip
    monkeypatch.setattr(jaxcnn.train, "fit", lambda *a, **k: RESULT)
    monkeypatch.setattr(protocol, "flops_per_example", lambda *a: 1)
    monkeypatch.setattr(jaxcnn.train, "predict", lambda model, variables, dataset: rng.normal(
        size=(dataset.size, phones.NUM_STATES)))  # fmt: skip
    config = dataclasses.replace(mfcc_frames.get_config(quick=True), models=("mlp",), sweep=())

    def run(workdir):
        return mfcc_frames.run(config, str(workdir))

    assert _run_as(monkeypatch, 1, run, tmp_path / "p1") == []
    written = _run_as(monkeypatch, 0, run, tmp_path / "p0")
    want = {"results.json", "results.md", "learning_curves.png", "confusion.png", "mlp/row.json"}
    assert want <= set(written), written


def test_main_prints_and_writes_on_process_0_only(monkeypatch, tmp_path, capsys):
    from jaxcnn.experiments import main

    def run(workdir):
        return main.main(["--quick", "--only", "params", "--workdir", str(workdir)])

    assert _run_as(monkeypatch, 1, run, tmp_path / "p1") == []
    assert capsys.readouterr().out == ""  # process 1 prints no copy of the tables
    assert "summary.json" in _run_as(monkeypatch, 0, run, tmp_path / "p0")
    assert "=== params:" in capsys.readouterr().out
