"""What every pipeline's results.json must carry from the comparison protocol (issue 19)."""

import json
from pathlib import Path

PROTOCOL_KEYS = {"max_epochs", "patience", "learning_rates", "seeds", "monitor"}
MODEL_KEYS = {"family", "params", "flops", "best_epoch", "epochs_run", "learning_rate",
              "test_accuracy", "test_ci95", "seeds"}  # fmt: skip
SWEEP_KEYS = {"family", "params", "flops", "test_accuracy", "test_ci95"}


def assert_protocol_fields(workdir, config) -> dict:
    """Check ``workdir/results.json`` against the protocol of ``config``; return it parsed."""
    saved = json.loads((Path(workdir) / "results.json").read_text())
    p = saved["protocol"]
    assert set(p) == PROTOCOL_KEYS
    assert p["max_epochs"] == config.epochs and p["patience"] == config.patience
    assert p["learning_rates"] == list(config.learning_rates) and p["seeds"] == config.seeds
    assert p["monitor"] == "eval_accuracy"
    assert 0.0 < saved["baseline"] < 1.0
    for name, m in saved["models"].items():
        assert MODEL_KEYS <= set(m), name
        # one protocol for all: the budget, the grid and the seeds are the same for every model
        assert 1 <= m["best_epoch"] <= m["epochs_run"] <= p["max_epochs"], name
        assert m["learning_rate"] in p["learning_rates"] and len(m["seeds"]) == p["seeds"]
        low, high = m["test_ci95"]
        assert low <= m["test_accuracy"] <= high, name
        # stopped early exactly when the patience ran out, or at the epoch budget
        assert m["epochs_run"] == p["max_epochs"] or (
            m["epochs_run"] - m["best_epoch"] == p["patience"]
        ), name
    assert saved["sweep"], "the sweep is empty"
    for point in saved["sweep"]:
        assert set(point) == SWEEP_KEYS
    families = {pt["family"] for pt in saved["sweep"]}
    assert families == {"MLP", "CNN"}
    return saved
