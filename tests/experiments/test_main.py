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
            "test_ci95": [0.5711, 0.6149],
            "train_examples_per_s": 12345.6,
            "flops": 316416,
            "epochs_run": 5,
            "best_epoch": 3,
        },
        {"model": "cnn", "params": 9204, "test_accuracy": None},
        {"model": "notes", "params": 9204, "test_accuracy": 0.058, "did_not_learn": True},
    ]
    table = main_job.format_table("speech", rows, 61.2, "protocol: x").splitlines()
    assert table[1] == "speech  (61 s)"
    assert table[3] == (
        "| model | parameters | FLOPs/example | epochs run | best epoch | test acc. | "
        "95% interval | PER (39 phones) | train ex/s |"
    )
    assert table[5] == (
        "| mlp | 158,474 | 316,416 | 5 | 3 | 0.5931 | [0.571, 0.615] | 0.457 | 12,346 |"
    )
    assert table[6] == "| cnn | 9,204 | - | - | - | - | - | - | - |"
    assert table[7] == "| notes (did not learn) | 9,204 | - | - | - | 0.0580 | - | - | - |"
    assert table[-1] == "protocol: x"


def test_table_rows_end_with_the_baselines():
    result = {
        "rows": [{"model": "mlp", "test_accuracy": 0.6}],
        "baseline": 0.05,
        "baseline_ci95": [0.04, 0.06],
        "baseline_linear": {"model": "logistic regression", "test_accuracy": 0.55,
                            "test_ci95": [0.5, 0.6]},
    }  # fmt: skip
    rows = main_job.table_rows(result)
    assert [r["model"] for r in rows] == [
        "mlp", "baseline: majority class", "baseline: logistic regression",
    ]  # fmt: skip
    assert rows[1]["test_ci95"] == [0.04, 0.06] and rows[2]["test_accuracy"] == 0.55
    assert main_job.table_rows({"rows": []}) == []


def test_models_below_the_linear_baseline_are_named_with_the_reason():
    def row(name, acc, **kw):
        return {"model": name, "test_accuracy": acc, "test_ci95": [acc - 0.01, acc + 0.01], **kw}

    result = {
        "rows": [
            row("cnn", 0.70, best_epoch=3, epochs_run=5, train_accuracy=0.9),  # above
            row("touching", 0.575, best_epoch=5, epochs_run=5),  # interval reaches 0.58
            row("slow", 0.40, best_epoch=5, epochs_run=5, train_accuracy=0.41),
            row("small", 0.40, best_epoch=3, epochs_run=5, train_accuracy=0.45),
            row("overfit", 0.50, best_epoch=2, epochs_run=4, train_accuracy=0.99),
            row("bare", 0.50),
        ],
        "protocol": {"max_epochs": 5},
        "baseline_linear": {"model": "logistic regression", "test_accuracy": 0.58,
                            "test_ci95": [0.57, 0.59]},
    }  # fmt: skip
    reasons = {r["model"]: r.get("below_linear") for r in main_job.table_rows(result)}
    assert reasons["cnn"] is None and reasons["touching"] is None
    assert reasons["slow"] == "under-trained: best dev epoch is the last of 5"
    assert reasons["small"] == "capacity: training accuracy 0.450"
    assert reasons["overfit"] == "generalisation: training accuracy 0.990"
    assert reasons["bare"] == "not measured"
    table = main_job.format_table("t", main_job.table_rows(result), 1.0)
    assert "| small (below the linear baseline; capacity: training accuracy 0.450) |" in table
    assert "| cnn |" in table


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


def test_report_is_one_self_contained_page_with_tables_and_plots(tmp_path):
    import base64

    from jaxcnn.experiments import report

    points = (("MLP", 100, 0.5), ("MLP", 3000, 0.6), ("CNN", 200, 0.55), ("CNN", 9000, 0.7))
    sweep = [
        {"family": f, "params": p, "flops": 2 * p, "test_accuracy": a,
         "test_ci95": [a - 0.01, a + 0.01]}
        for f, p, a in points
    ]  # fmt: skip
    result = {"sweep": sweep, "baseline": 0.1, "baseline_linear": {"test_accuracy": 0.4}}
    (tmp_path / "audio").mkdir()
    section = {"name": "audio", "title": "speech <frames>", "seconds": 12.0, "result": result,
               "table": main_job.format_table("speech", [{"model": "mlp", "params": 100}], 12.0,
                                              "protocol: at most 2 epochs")}  # fmt: skip
    report.write_combined_sweep([section], tmp_path / "accuracy_vs_params.png")
    from jaxcnn.experiments import protocol

    protocol.write_accuracy_vs_params(sweep, tmp_path / "audio" / "accuracy_vs_params.png")
    page = report.write_report([section], tmp_path, tmp_path / "report.html").read_text()
    assert "<td>mlp</td><td>100</td>" in page and "speech &lt;frames&gt;" in page
    assert "protocol: at most 2 epochs" in page and "Commit " in page
    images = page.split("src='data:image/png;base64,")[1:]
    assert len(images) == 2  # the combined sweep and the pipeline's sweep
    for img in images:
        assert base64.b64decode(img.split("'", 1)[0]).startswith(b"\x89PNG")
    assert "http://" not in page and "https://" not in page  # nothing fetched from a network
