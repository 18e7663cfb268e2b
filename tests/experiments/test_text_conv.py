"""experiments/text_conv.py on a tiny configuration of the real WordNet glosses."""

import dataclasses
import json
import math

import numpy as np
import pytest
from jaxcnn.experiments import text_conv

from tests.experiments.protocol_checks import assert_protocol_fields
from tests.strict_json import assert_strict_json_files


def _tiny():
    return dataclasses.replace(
        text_conv.get_config(quick=True),
        classifiers=("kim_two_channel",),
        language_models=("causal_conv_lm",),
    )


def test_quick_run_writes_rows_and_resumes(tmp_path):
    config = _tiny()
    summary = text_conv.run(config, str(tmp_path))
    rows = {r["model"]: r for r in summary["rows"]}
    assert set(rows) == {"kim_two_channel", "bag_of_embeddings", "causal_conv_lm"}
    for row in rows.values():
        assert {"model", "params", "test_accuracy", "train_examples_per_s"} <= set(row)
        assert 0.0 <= row["test_accuracy"] <= 1.0 and row["train_examples_per_s"] > 0
        assert row["train_compiles"] == row["buckets"]  # one per bucket, whole run
    kim = rows["kim_two_channel"]
    # two 16-wide tables (800 words) + convs of width 3 and 5 (16 -> 8) + Dense(16 -> 45)
    assert kim["params"] == 2 * 800 * 16 + (3 + 5) * 16 * 8 + 2 * 8 + 16 * 45 + 45
    lm = rows["causal_conv_lm"]
    assert lm["test_perplexity"] == pytest.approx(math.exp(lm["test_loss"]))
    assert 1.0 < lm["test_perplexity"] < 2 * config.lm_vocab
    d = summary["dense_vs_conv"]
    assert (d["dense_params"], d["conv_params"]) == (10_000_100_000, 50_100)  # the notes
    # intervals and baselines on the same kept test glosses as the models
    low, high = kim["test_ci95"]
    assert low <= kim["test_accuracy"] <= high
    data = text_conv.load_data(config)
    assert (
        len(data["texts"]["test"])
        == len(data["labels"]["test"])
        == sum(t.size for t in data["test"])
    )
    train, test = data["labels"]["train"], data["labels"]["test"]
    assert summary["baseline"] == pytest.approx((test == np.bincount(train).argmax()).mean())
    linear = summary["baseline_linear"]
    assert {"model", "test_accuracy", "test_ci95"} <= set(linear)
    assert linear["test_ci95"][0] <= linear["test_accuracy"] <= linear["test_ci95"][1]
    assert linear["test_accuracy"] > summary["baseline"]  # TF-IDF learns something
    assert "| baseline: majority class |" in (tmp_path / "results.md").read_text()
    sg = summary["skipgram"]
    assert sg["pairs"] == config.sg_pairs and sg["synonym_pairs"] > 0
    for name in ("results.json", "results.md", "learning_curves.png", "vocab.json"):
        assert (tmp_path / name).is_file()
    assert json.loads((tmp_path / "results.json").read_text())["rows"] == summary["rows"]
    saved = assert_protocol_fields(tmp_path, config)  # issue 19: one protocol for every classifier
    assert set(saved["models"]) == {"kim_two_channel", "bag_of_embeddings"}
    assert (tmp_path / "accuracy_vs_params.png").stat().st_size > 0
    assert "10,000,100,000" in (tmp_path / "results.md").read_text()
    # same config, same workdir: the finished run is reused, not retrained
    assert text_conv.run(config, str(tmp_path)) == json.loads(
        (tmp_path / "results.json").read_text()
    )
    assert_strict_json_files(tmp_path, at_least=2)
    # a damaged results.json is recomputed with a warning, not a crash
    (tmp_path / "results.json").write_text('{"config": {"clas')

    def recompute(*args, **kwargs):
        raise AssertionError("recomputed")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(text_conv, "load_data", recompute)
        with pytest.warns(UserWarning, match=r"results\.json is not valid JSON"):
            with pytest.raises(AssertionError, match="recomputed"):
                text_conv.run(config, str(tmp_path))


def test_bad_model_names():
    with pytest.raises(ValueError, match="make_classifier: name must be one of"):
        text_conv.make_classifier("kim_frozen", text_conv.get_config(quick=True), 10)


@pytest.mark.slow
def test_main_quick_every_model(tmp_path):
    summary = text_conv.main(["--quick", "--workdir", str(tmp_path)])
    names = [r["model"] for r in summary["rows"]]
    assert names == ["bag_of_embeddings", "kim_two_channel", "causal_conv_lm", "window_mlp_lm"]
    assert_protocol_fields(tmp_path, text_conv.get_config(quick=True))


@pytest.mark.parametrize("value", ["kim_frozen", "", "kim_rand,nope"])
def test_classifiers_flag_refuses_unknown_names(value, capsys):
    with pytest.raises(SystemExit):
        text_conv.main(["--quick", "--classifiers", value, "--workdir", "unused"])
    assert "--classifiers: want a subset of" in capsys.readouterr().err


def test_main_job_table_and_full_run_classifiers():
    # The main job trains the three classifiers that decide its ranking; --full trains all five.
    assert text_conv.get_config().classifiers == (
        "bag_of_embeddings",
        "kim_rand",
        "kim_two_channel",
    )
    assert text_conv.full_config().classifiers == text_conv.CLASSIFIERS
