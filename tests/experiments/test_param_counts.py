"""experiments/param_counts.py against the notes' own figures (and their corrections)."""

from __future__ import annotations

import json

from jaxcnn.experiments import param_counts

from tests.strict_json import assert_strict_json_files


def test_param_counts_reproduces_the_notes(tmp_path):
    out = param_counts.main(["--workdir", str(tmp_path), "--quick"])
    rows = {r["item"]: r for r in out["rows"]}

    def row(prefix):
        (match,) = [r for item, r in rows.items() if item.startswith(prefix)]
        return match

    assert row("MLP 21x40")["computed"] == 158_474  # 157,952 weights + 522 biases, "~160k"
    assert "157,952" in row("MLP 21x40")["notes"]
    assert row("10-layer CNN")["computed"] == 9_204 and row("10-layer CNN")["shape"] == "138"
    assert row("same CNN with SAME")["computed"] == 348_684
    assert row("the notes' formula")["computed"] == 100_392
    assert row("dense 1000x100")["computed"] == 10_000_100_000
    assert row("conv1d kernel 5")["computed"] == 50_100
    assert row("conv1d kernel 5")["shape"] == "1000x100"
    assert (
        row("32x32x3 input, 1 ")["shape"] == "28x28x1"
        and row("32x32x3 input, 1 ")["computed"] == 76
    )
    assert (
        row("32x32x3 input, 6 ")["shape"] == "28x28x6"
        and row("32x32x3 input, 6 ")["computed"] == 456
    )
    assert row("56x56x3")["shape"] == "56x56x32"
    assert row("12x12")["computed"] == "8x8" and row("12x12")["shape"] == "4x4x10"
    assert row("[3x3x64]")["computed"] == 576
    assert row("100x100 image")["computed"] == 100_000_000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(out["rows"]))
    assert_strict_json_files(tmp_path)
    md = (tmp_path / "results.md").read_text()
    assert "10,000,100,000" in md and "| item |" in md
