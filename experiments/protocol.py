"""The comparison protocol every pipeline trains its models by (issue 19).

One budget for every model of a pipeline, so that a difference in test accuracy is a difference
between models and not between how long or how well each was trained:

* the same maximum epochs; early stopping on dev accuracy with the same patience;
* the best-dev epoch's variables are the ones tested (`BestCheckpoint`), and the test set is read
  once per trained model (never for a choice);
* the same learning-rate grid, the value chosen on dev (first seed), then ``seeds`` runs at it;
* test accuracy as the mean over seeds, with a 95% bootstrap interval over independent units
  (`experiments.compare.bootstrap_ci` on the per-example fraction correct over seeds), and the
  paired difference of two models per seed and over units.

The pipeline supplies a ``fit_one(learning_rate, seed) -> FitResult`` (which calls
``jaxcnn.train.fit`` with :func:`callbacks` and :func:`train_config_fields`) and a
``test_correct(variables) -> (N,) bool`` (its one pass over the test set); :func:`run_model` does
the rest and returns the ``"models"`` entry of results.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from jaxcnn.experiments import compare

from jaxcnn import _checks

MONITOR = "eval_accuracy"  # dev accuracy: fit's eval set is the dev set in every pipeline


@dataclasses.dataclass(frozen=True)
class Protocol:
    """The shared budget of one pipeline's models.

    Attributes:
      max_epochs: epochs at most (also the length of the cosine schedule).
      patience: epochs without a better dev accuracy before stopping.
      learning_rates: the grid; the dev-best value (first seed) is used for every seed.
      seeds: trained models per (model, chosen learning rate); seeds are ``seed, seed + 1, ...``.
      monitor: the history column that decides (dev accuracy).

    Raises:
      ValueError: a non-positive epoch count, patience or seed count, an empty grid or a
        non-positive learning rate.
    """

    max_epochs: int
    patience: int
    learning_rates: tuple[float, ...]
    seeds: int = 1
    monitor: str = MONITOR

    def __post_init__(self):
        for name in ("max_epochs", "patience", "seeds"):
            _checks.positive_int(getattr(self, name), "Protocol", name)
        rates = tuple(self.learning_rates)
        if not rates or not all(_checks.is_real(r) and r > 0 for r in rates):
            raise ValueError(
                f"Protocol: learning_rates must be a non-empty tuple of positive numbers, "
                f"got {self.learning_rates!r}"
            )
        object.__setattr__(self, "learning_rates", tuple(float(r) for r in rates))

    def to_dict(self) -> dict:
        """The ``"protocol"`` field of results.json."""
        return {"max_epochs": self.max_epochs, "patience": self.patience,
                "learning_rates": list(self.learning_rates), "seeds": self.seeds,
                "monitor": self.monitor}  # fmt: skip

    def describe(self) -> str:
        """One line for tables: budget, grid (saying when it is a single value) and seeds."""
        grid = ", ".join(f"{r:g}" for r in self.learning_rates)
        one = " (one-value grid: no learning-rate search at this size)" if len(
            self.learning_rates) == 1 else " (chosen on dev)"  # fmt: skip
        return (
            f"protocol: at most {self.max_epochs} epochs, early stopping on dev accuracy "
            f"(patience {self.patience}), best-dev epoch tested, learning rate {{{grid}}}{one}, "
            f"{self.seeds} seed(s)"
        )


def add_args(parser):
    """Add ``--seeds N``, ``--patience N`` and ``--learning-rates a,b,c`` to ``parser``.

    Each defaults to None: the script's config keeps its own value (see :func:`apply_args`).
    """

    def rates(text: str) -> tuple[float, ...]:
        return tuple(float(v) for v in text.split(",") if v.strip())

    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="train every model this many times (mean, spread, paired difference)",
    )
    parser.add_argument(
        "--patience",
        type=int,
        default=None,
        help="epochs without a better dev accuracy before a model stops (every model alike)",
    )
    parser.add_argument("--learning-rates", type=rates, default=None,
                        help="comma-separated learning-rate grid, chosen on dev")  # fmt: skip
    return parser


def apply_args(config: Any, args: argparse.Namespace) -> Any:
    """``config`` (a dataclass with ``seeds``, ``patience``, ``learning_rates``) with the flags
    of :func:`add_args` that were given.

    Raises:
      TypeError: ``config`` is not a dataclass instance or lacks one of those fields. The
        values themselves are checked when the run builds its `Protocol`.
    """
    changes = {"seeds": args.seeds, "patience": args.patience}
    changes = {k: v for k, v in changes.items() if v is not None}
    if args.learning_rates:
        changes["learning_rates"] = args.learning_rates
    return dataclasses.replace(config, **changes)


def callbacks(protocol: Protocol) -> list:
    """Early stopping and best-dev checkpoint on ``protocol.monitor`` (higher is better)."""
    from jaxcnn.train.callbacks import BestCheckpoint, EarlyStopping

    return [
        EarlyStopping(protocol.monitor, patience=protocol.patience, mode="max"),
        BestCheckpoint(protocol.monitor, mode="max"),
    ]


def run_model(
    fit_one: Callable[[float, int], Any],
    test_correct: Callable[[dict], np.ndarray],
    protocol: Protocol,
    *,
    family: str,
    flops: int | None,
    units=None,
    seed: int = 0,
) -> tuple[dict, np.ndarray, list]:
    """Choose the learning rate on dev, train ``protocol.seeds`` models, test each once.

    Args:
      fit_one: ``(learning_rate, seed) -> FitResult`` of a `fit` with :func:`callbacks`.
      test_correct: ``variables -> (N,) bool``: right or wrong on each test example.
      family: "MLP", "CNN", ... ; flops: per example (:func:`flops_per_example`), or None.
      units: ``(N,)`` int bootstrap units (utterances), None: every example its own unit.
      seed: the first seed.

    Returns:
      ``(entry, correct, histories)``: the ``"models"`` entry of results.json (family, params,
      flops, best_epoch, epochs_run, learning_rate, test_accuracy (seed mean), test_ci95,
      test_accuracy_std, seeds (one dict per seed), dev_by_learning_rate); the ``(seeds, N)``
      correct matrix (for :func:`paired_difference`); the chosen runs' histories.
    """
    first = {}
    for lr in protocol.learning_rates:
        first[lr] = fit_one(lr, seed)
    dev = {lr: _best_dev(r, protocol.monitor) for lr, r in first.items()}
    chosen = max(protocol.learning_rates, key=lambda lr: (dev[lr], -lr))  # ties: the smaller
    runs = [first[chosen]] + [fit_one(chosen, seed + i) for i in range(1, protocol.seeds)]
    correct = np.stack([np.asarray(test_correct(r.variables), bool) for r in runs])
    per_seed = []
    for i, (r, c) in enumerate(zip(runs, correct, strict=True)):
        per_seed.append({
            "seed": seed + i,
            "test_accuracy": float(c.mean()),
            "dev_accuracy": _best_dev(r, protocol.monitor),
            "best_epoch": int(r.best_epoch) if r.best_epoch is not None else len(r.history),
            "epochs_run": len(r.history),
            "train_seconds": float(sum(h.get("seconds", 0.0) for h in r.history)),
            "train_examples_per_s": float(r.throughput),
        })  # fmt: skip
    accs = [s["test_accuracy"] for s in per_seed]
    entry = {
        "family": family,
        "params": int(runs[0].num_params),
        "flops": None if flops is None else int(flops),
        "best_epoch": per_seed[0]["best_epoch"],
        "epochs_run": per_seed[0]["epochs_run"],
        "learning_rate": chosen,
        "test_accuracy": float(np.mean(accs)),
        "test_ci95": list(compare.bootstrap_ci(correct.mean(axis=0), units, seed=seed)),
        "test_accuracy_std": float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
        "seeds": per_seed,
        "dev_by_learning_rate": {f"{lr:g}": dev[lr] for lr in protocol.learning_rates},
        "train_seconds": float(np.mean([s["train_seconds"] for s in per_seed])),
        "train_examples_per_s": float(np.mean([s["train_examples_per_s"] for s in per_seed])),
    }
    return entry, correct, [r.history for r in runs]


def paired_difference(correct_a, correct_b, units=None, *, seed: int = 0) -> dict:
    """Accuracy of model a minus model b, per seed (paired: same seed, same test examples).

    Args:
      correct_a, correct_b: ``(S, N)`` bool, as :func:`run_model` returns them.
      units: as :func:`run_model`.

    Returns:
      ``{"mean", "per_seed", "ci95"}``: the seed-mean difference, each seed's, and a bootstrap
      interval over units of the seed-mean difference (both models' examples resampled together).

    Raises:
      ValueError: the shapes differ or are not 2-D.
    """
    a, b = np.asarray(correct_a, np.float64), np.asarray(correct_b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(
            f"paired_difference: correct_a and correct_b must be (seeds, N) of one shape, "
            f"got {a.shape} and {b.shape}"
        )
    diff = a - b
    return {
        "mean": float(diff.mean()),
        "per_seed": [float(d) for d in diff.mean(axis=1)],
        "ci95": list(compare.bootstrap_ci(diff.mean(axis=0), units, seed=seed)),
    }


def summary_fields(
    plan: Protocol,
    models: dict,
    correct: dict,
    sweep: Sequence[str],
    *,
    units=None,
    reference: str = "mlp",
    seed: int = 0,
) -> dict:
    """What results.json gains from the protocol: ``"protocol"``, ``"models"``, ``"sweep"`` and
    ``"paired_differences"`` (every CNN minus ``reference``, per seed and over units).

    Args:
      plan: the protocol every model was trained by; models: name -> :func:`run_model` entry;
      correct: name -> its ``(seeds, N)`` matrix; sweep: the names in the sweep (others ignored).
    """
    pairs = {}
    if reference in correct:
        for name, entry in models.items():
            if entry["family"] == "CNN" and name in correct:
                pairs[f"{name} - {reference}"] = paired_difference(
                    correct[name], correct[reference], units, seed=seed
                )
    return {
        "protocol": plan.to_dict(),
        "models": models,
        "sweep": [sweep_point(models[n]) for n in sweep if n in models],
        "paired_differences": pairs,
    }


def markdown(summary: dict) -> str:
    """results.md's protocol section: the budget, the sweep by budget, the paired differences."""
    from jaxcnn.experiments.compare import format_ci

    p = summary["protocol"]
    plan = Protocol(p["max_epochs"], p["patience"], tuple(p["learning_rates"]), p["seeds"],
                    p["monitor"])  # fmt: skip
    lines = ["## Comparison protocol", "", plan.describe() + ".", "",
             "## Accuracy against parameters (sweep)", "",
             crossover_note(summary["sweep"])]  # fmt: skip
    if summary.get("paired_differences"):
        lines += ["## Paired differences (same seeds, same test examples)", ""]
        for name, d in summary["paired_differences"].items():
            per = ", ".join(f"{v:+.3f}" for v in d["per_seed"])
            lines.append(f"- {name}: {d['mean']:+.3f} {format_ci(d['ci95'])} (per seed: {per})")
        lines.append("")
    return "\n".join(lines)


def sweep_point(entry: dict) -> dict:
    """A ``"sweep"`` item of results.json from a ``"models"`` entry."""
    return {k: entry[k] for k in ("family", "params", "flops", "test_accuracy", "test_ci95")}


def flops_per_example(model, example) -> int | None:
    """FLOPs (2 x multiply-accumulates of convolutions and dense layers) of one example.

    Args:
      model: a Flax Linen module; example: one example's input with a batch axis of 1 (an array
        or a pytree of arrays, e.g. ``{"ids", "mask"}``).

    Returns:
      `jaxcnn.arith.summary`'s total, or None when a layer of the model is not countable there.
    """
    import jax

    from jaxcnn.arith.summary import summary

    shapes = jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), np.asarray(a).dtype), example)
    try:
        return int(summary(model, shapes, print_fn=None)[-1]["flops"])
    except (TypeError, ValueError, KeyError):
        return None


def crossover(sweep: Sequence[dict], small: str = "MLP", large: str = "CNN") -> dict:
    """From which parameter budget family ``large`` beats family ``small``, and by how much.

    At each budget B (every parameter count in the sweep) the best model of each family with at
    most B parameters is compared; "beats" means the ``large`` family's interval lies entirely
    above the ``small`` family's interval.

    Returns:
      ``{"budgets": [{"budget", "small", "large" (the two points or None), "difference",
      "beats"}], "from_budget"}``: ``from_budget`` is the smallest budget from which it beats at
      every larger budget too (None: never).
    """
    budgets = sorted({int(p["params"]) for p in sweep})
    rows = []
    for budget in budgets:
        best = {}
        for fam in (small, large):
            pts = [p for p in sweep if p["family"] == fam and p["params"] <= budget]
            best[fam] = max(pts, key=lambda p: p["test_accuracy"]) if pts else None
        s, g = best[small], best[large]
        both = s is not None and g is not None
        rows.append({
            "budget": budget, "small": s, "large": g,
            "difference": g["test_accuracy"] - s["test_accuracy"] if both else None,
            "beats": bool(both and g["test_ci95"][0] > s["test_ci95"][1]),
        })  # fmt: skip
    start = None
    for row in reversed(rows):
        if not row["beats"]:
            break
        start = row["budget"]
    return {"budgets": rows, "from_budget": start}


def crossover_note(sweep: Sequence[dict], *, small: str = "MLP", large: str = "CNN") -> str:
    """Markdown: the sweep table by budget and the sentence saying from where ``large`` wins."""
    from jaxcnn.experiments.compare import format_ci

    missing = [f for f in (small, large) if not any(p["family"] == f for p in sweep)]
    if missing:  # e.g. `--sweep none`: no budget to compare at, so no verdict either way
        return (f"No {' and no '.join(missing)} model in this run's sweep: no crossover to "
                "report.\n")  # fmt: skip
    out = crossover(sweep, small, large)
    lines = [f"| budget (params) | best {small} | best {large} | {large} - {small} | "
             f"FLOPs {large} / {small} | {large} beats |", "|---|---|---|---|---|---|"]  # fmt: skip

    def cell(p):
        if p is None:
            return "-"
        return f"{p['test_accuracy']:.3f} {format_ci(p['test_ci95'])} ({p['params']:,} p.)"

    for r in out["budgets"]:
        s, g = r["small"], r["large"]
        ratio = "-"
        if s and g and s.get("flops") and g.get("flops"):
            ratio = f"{g['flops'] / s['flops']:.1f}x"
        diff = "-" if r["difference"] is None else f"{r['difference']:+.3f}"
        lines.append(f"| {r['budget']:,} | {cell(s)} | {cell(g)} | {diff} | {ratio} | "
                     f"{'yes' if r['beats'] else 'no'} |")  # fmt: skip
    if out["from_budget"] is None:
        verdict = (f"The {large} family does not beat the {small} family beyond the intervals "
                   "at every budget up to the largest one swept.")  # fmt: skip
    else:
        at = next(r for r in out["budgets"] if r["budget"] == out["from_budget"])
        verdict = (
            f"From {out['from_budget']:,} parameters on, the best {large} beats the best {small} "
            f"of at most that size beyond both intervals: by {at['difference']:+.3f} there "
            f"({format_ci(at['large']['test_ci95'])} against "
            f"{format_ci(at['small']['test_ci95'])})."
        )
    return "\n".join(lines) + "\n\n" + verdict + "\n"


def plot_accuracy_vs_params(sweep: Sequence[dict], axes, references: dict | None = None,
                            title: str = "") -> None:  # fmt: skip
    """Draw test accuracy against parameters (``axes[0]``, log x) and FLOPs (``axes[1]``).

    One line per family with its 95% intervals as error bars; ``references`` (name -> accuracy,
    the baselines) as grey horizontal lines on both panels.
    """
    families = sorted({p["family"] for p in sweep})
    for fam, marker in zip(families, "osD^v", strict=False):
        pts = sorted((p for p in sweep if p["family"] == fam), key=lambda p: p["params"])
        acc = np.array([p["test_accuracy"] for p in pts])
        err = np.array([[a - p["test_ci95"][0], p["test_ci95"][1] - a] for a, p in
                        zip(acc, pts, strict=True)]).T.reshape(2, -1)  # fmt: skip
        for ax, key in zip(axes, ("params", "flops"), strict=True):
            xs = [p.get(key) for p in pts]
            keep = [i for i, x in enumerate(xs) if x]
            if keep:
                ax.errorbar([xs[i] for i in keep], acc[keep], yerr=err[:, keep], marker=marker,
                            capsize=3, label=fam)  # fmt: skip
    for (label, value), style in zip((references or {}).items(), ("--", ":", "-."), strict=False):
        if value is not None and math.isfinite(value):
            for ax in axes:
                ax.axhline(value, color="gray", linestyle=style, label=label)
    axes[0].set(xscale="log", xlabel="parameters", ylabel="test accuracy", title=title)
    axes[1].set(xscale="log", xlabel="FLOPs per example", title=title)
    axes[0].legend(fontsize=7)


def write_accuracy_vs_params(sweep, path, references: dict | None = None, title: str = "") -> None:
    """``accuracy_vs_params.png``: :func:`plot_accuracy_vs_params` on a bare Figure, atomically.

    Drawn on process 0 only (the one that writes files when many run)."""
    from jaxcnn._figure import new_figure, save_figure
    from jaxcnn.train.processes import is_writer

    if not is_writer():
        return

    fig = new_figure((10, 4))
    plot_accuracy_vs_params(sweep, fig.subplots(1, 2), references, title)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def _best_dev(result, monitor: str) -> float:
    values = [h.get(monitor, float("nan")) for h in result.history]
    finite = [v for v in values if v == v]
    return float(max(finite)) if finite else float("nan")
