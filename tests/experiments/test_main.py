"""The main job's driver: its table, its flags, and a real run of the cheapest part."""

import json

import pytest
from jaxcnn.experiments import main as main_job

from tests.strict_json import assert_strict_json_files


def test_format_table_prints_every_row_and_marks_missing_values():
    rows = [
        {
            "model": "mlp",
            "params": 158474,
            "test_accuracy": 0.59312,
            "test_per_39": 0.4567,
            "train_examples_per_s": 12345.6,
        },
        {"model": "cnn", "params": 9204, "test_accuracy": None},
    ]
    table = main_job.format_table("speech", rows, 61.2).splitlines()
    assert table[1] == "speech  (61 s)"
    assert table[3] == "| model | parameters | test acc. | PER (39 phones) | train ex/s |"
    assert table[5] == "| mlp | 158,474 | 0.5931 | 0.457 | 12,346 |"
    assert table[6] == "| cnn | 9,204 | - | - | - |"


def test_only_params_runs_the_notes_arithmetic_and_writes_a_summary(tmp_path):
    summary = main_job.main(["--workdir", str(tmp_path), "--quick", "--only", "params"])
    assert set(summary) == {"params"}
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["params"]["rows"] == summary["params"]["rows"]
    counts = {row["item"]: row["computed"] for row in summary["params"]["rows"]}
    assert 158_474 in counts.values()  # the notes' MLP, counted from a real module
    assert (tmp_path / "params" / "results.json").exists()
    assert_strict_json_files(tmp_path, at_least=2)


def test_unknown_pipeline_is_an_error(capsys):
    with pytest.raises(SystemExit):
        main_job.main(["--only", "audio,vision"])
    assert "--only: unknown pipeline(s) ['vision']" in capsys.readouterr().err
