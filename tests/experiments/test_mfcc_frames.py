import dataclasses
import json

import pytest
from jaxcnn.experiments import mfcc_frames

from tests.experiments.protocol_checks import assert_protocol_fields


def test_quick_run_end_to_end(tmp_path):
    # Two models keep the default suite short (compiling the 10-layer CNN costs most of the
    # time on 2 cores); the slow test below runs the whole quick config.
    pytest.importorskip("espeakng_loader")
    config = dataclasses.replace(mfcc_frames.get_config(quick=True), models=("mlp", "time_cnn"))
    summary = check_run(config, tmp_path)
    assert summary["rows"][0]["params"] == 158_474
    saved = assert_protocol_fields(tmp_path, config)  # issue 19: one protocol for every model
    assert list(saved["models"]) == ["mlp", "time_cnn"]
    assert set(saved["paired_differences"]) == {"time_cnn - mlp"}
    assert (tmp_path / "accuracy_vs_params.png").stat().st_size > 0
    # Resuming with the same config reuses every finished model.
    again = mfcc_frames.run(config, str(tmp_path))
    assert again["rows"] == summary["rows"]


@pytest.mark.slow
def test_quick_config_all_models(tmp_path):
    pytest.importorskip("espeakng_loader")
    summary = check_run(mfcc_frames.get_config(quick=True), tmp_path)
    rows = {r["model"]: r for r in summary["rows"]}
    assert list(rows) == list(mfcc_frames.MODEL_NAMES)
    assert rows["mlp"]["params"] == 158_474 and rows["notes_cnn"]["params"] == 9_204
    assert rows["notes_cnn_bn"]["params"] == 9_204 - 10 * 3 + 10 * 6  # BN instead of conv bias


def check_run(config, tmp_path):
    summary = mfcc_frames.run(config, str(tmp_path))
    rows = {r["model"]: r for r in summary["rows"]}
    assert list(rows) == list(config.models)
    for row in rows.values():
        assert 0.0 <= row["test_accuracy"] <= row["test_phone_accuracy"] + 1e-9 <= 1.0 + 1e-9
        assert row["test_phone_accuracy"] <= row["test_phone39_accuracy"] + 1e-9 <= 1.0 + 1e-9
        assert 0.0 <= row["test_per_39"] and 0.0 <= row["test_per_39_argmax"]
        assert row["train_examples_per_s"] > 0
    data = summary["data"]
    assert data["skipped_synthesis"] == 0 and data["skipped_features"] == 0
    assert min(data["speakers"].values()) >= 1 and min(data["frames"].values()) > 100
    for name in ("results.json", "results.md", "learning_curves.png", "confusion.png"):
        assert (tmp_path / name).stat().st_size > 0
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert [r["params"] for r in on_disk["rows"]] == [r["params"] for r in summary["rows"]]
    # issue 26: intervals on every row, the majority and linear baselines beside them
    for r in [*summary["rows"], summary["baseline_linear"]]:
        assert r["test_ci95"][0] <= r["test_accuracy"] <= r["test_ci95"][1]
    assert (
        0 < summary["baseline"] < 1
        and "| baseline: majority class |" in (tmp_path / "results.md").read_text()
    )
    # the synthesised corpus's ranking is set beside the recorded one-hour run's (issue 26)
    md = (tmp_path / "results.md").read_text()
    assert f"Recorded full-size run ({mfcc_frames.FULL_RUN['source']})" in md
    assert "CNN 0.829 > MLP 0.720 > linear 0.676" in md
    return summary


def test_a_truncated_row_cache_is_ignored_with_a_warning(tmp_path, caplog):
    import logging

    config = mfcc_frames.get_config(quick=True)
    path = tmp_path / "row.json"
    path.write_text('{"config": {"data_dir": null, "corp')  # an interrupted write
    with caplog.at_level(logging.WARNING):
        assert mfcc_frames._cached(path, config, "abc") is None  # was a JSONDecodeError
    assert f"ignoring damaged cache {path}" in caplog.text
    good = {"config": mfcc_frames._asdict(config), "data_fingerprint": "abc", "row": {},
            "history": [], "confusion": []}  # fmt: skip
    path.write_text(json.dumps(good))
    assert mfcc_frames._cached(path, config, "abc") == good
    assert mfcc_frames._cached(path, config, "other data") is None  # the corpus changed
