"""A workdir's results belong to one config: a changed config refuses, epochs raised continue."""

import dataclasses
import json

import pytest

from jaxcnn.train import Dataset, ProvenanceError, TrainConfig, fit
from jaxcnn.train.checkpoint import leaves_equal
from jaxcnn.train.provenance import compare
from tests.train.helpers import MLP, digits

CFG = TrainConfig(epochs=1, batch_size=64, learning_rate=1e-3, progress=False)


@pytest.fixture(scope="module")
def train():
    xt, yt, _, _ = digits(512)
    return Dataset.from_arrays(xt, yt)


def test_changed_learning_rate_refuses_and_overwrite_starts_afresh(train, tmp_path):
    fit(MLP(hidden=16), train, None, CFG, workdir=tmp_path)
    other = dataclasses.replace(CFG, learning_rate=3e-3)
    with pytest.raises(ProvenanceError, match=r"learning_rate: 0.001 in the workdir, 0.003 now"):
        fit(MLP(hidden=16), train, None, other, workdir=tmp_path)
    fresh = fit(MLP(hidden=16), train, None, other)
    over = fit(MLP(hidden=16), train, None, other, workdir=tmp_path, overwrite=True)
    assert leaves_equal(over.variables, fresh.variables)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["learning_rate"] == 3e-3 and saved["continued"] == []


def test_raised_epochs_continue_and_are_recorded(train, tmp_path):
    fit(MLP(hidden=16), train, None, CFG, workdir=tmp_path)
    more = dataclasses.replace(CFG, epochs=3)
    continued = fit(MLP(hidden=16), train, None, more, workdir=tmp_path)
    whole = fit(MLP(hidden=16), train, None, more)
    assert leaves_equal(continued.variables, whole.variables)  # constant schedule: same run
    assert [h["epoch"] for h in continued.history] == [1, 2, 3]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["config"]["epochs"] == 3
    assert saved["continued"] == [{"from_epochs": 1, "to_epochs": 3, "at_step": 8}]
    with pytest.raises(ProvenanceError, match=r"epochs: 3 in the workdir, 2 now"):
        fit(MLP(hidden=16), train, None, dataclasses.replace(CFG, epochs=2), workdir=tmp_path)


def test_a_custom_loss_is_part_of_the_record(train, tmp_path):
    def loss(logits, labels, weight):
        return -logits[..., 0] * 0.0 + 1.0

    fit(MLP(hidden=16), train, None, CFG, workdir=tmp_path)
    with pytest.raises(ProvenanceError, match=r"fit.loss: None in the workdir, '.*loss' now"):
        fit(MLP(hidden=16), train, None, CFG, workdir=tmp_path, loss=loss)


def test_compare_names_every_field_and_ignores_free_ones():
    old = {"learning_rate": 0.1, "seed": 0, "epochs": 2, "progress": None, "frozen": ["a"]}
    new = {"learning_rate": 0.2, "seed": 1, "epochs": 4, "progress": True, "frozen": ("a",)}
    with pytest.raises(ProvenanceError) as e:
        compare(old, new, "runs/x")
    assert "learning_rate: 0.1 in the workdir, 0.2 now" in str(e.value)
    assert "seed: 0 in the workdir, 1 now" in str(e.value) and "progress" not in str(e.value)
    assert compare({**old, "seed": 1, "learning_rate": 0.2}, new, "x") == {"epochs": (2, 4)}


def test_experiments_take_overwrite():
    import argparse
    import inspect

    from jaxcnn.experiments import images, mfcc_frames, text_conv

    from jaxcnn.train.cli import add_common_args

    parser = add_common_args(argparse.ArgumentParser())
    assert parser.parse_args(["--overwrite"]).overwrite is True
    assert parser.parse_args([]).overwrite is False
    for module in (images, mfcc_frames, text_conv):
        assert "overwrite" in inspect.signature(module.run).parameters
