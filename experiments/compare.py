"""Statistics every pipeline's comparison shares: intervals, majority baseline, "did not learn".

One test accuracy is a mean over examples that are not independent: the frames of one utterance
share a speaker, a sentence and a recording. The interval therefore comes from a bootstrap over
independent *units* (utterances for speech frames, glosses for text, images for images): each
resample draws units with replacement and keeps all of their examples, and the accuracy of a
resample is its correct examples over its examples (a ratio, so long and short units weigh by
their size as in the test accuracy itself). Resampling frames instead would treat 300 frames of
one utterance as 300 independent draws and give an interval several times too narrow.

NumPy only: it runs on the host on a few thousand per-example booleans, after the model.
"""

from __future__ import annotations

import numpy as np

from jaxcnn import _checks

NUM_RESAMPLES = 1000  # fixed: intervals of different runs are comparable
LEVEL = 0.95
_CHUNK = 100  # resamples drawn at a time (bounds memory at 100 x units indices)


def bootstrap_ci(
    correct,
    units=None,
    *,
    seed: int = 0,
    num_resamples: int = NUM_RESAMPLES,
    level: float = LEVEL,
) -> tuple[float, float]:
    """Percentile bootstrap interval of an accuracy, resampling units with replacement.

    Args:
      correct: ``(N,)`` bool (or 0/1) per example: was the prediction right.
      units: ``(N,)`` int unit id per example (any values; examples with equal ids form one
        unit); None: every example is its own unit (glosses, images).
      seed: seed of the NumPy generator that draws the resamples (same seed, same interval).
      num_resamples: bootstrap resamples (default :data:`NUM_RESAMPLES`).
      level: coverage of the interval, in (0, 1).

    Returns:
      ``(low, high)`` floats, the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the
      resampled accuracies.

    Raises:
      ValueError: ``correct`` not 1-D or empty, ``units`` of another shape, a bad
        ``num_resamples`` or ``level``.
      TypeError: ``seed`` or ``num_resamples`` not an int, ``units`` not integers.
    """
    fn = "bootstrap_ci"
    correct = _check_correct(correct, fn)
    if not _checks.is_int(seed):
        raise TypeError(f"{fn}: seed must be an int, got {type(seed).__name__} {seed!r}")
    num_resamples = _checks.positive_int(num_resamples, fn, "num_resamples")
    if not _checks.is_real(level) or not 0 < level < 1:
        raise ValueError(f"{fn}: level must be a number in (0, 1), got {level!r}")
    sums, counts = unit_totals(correct, units, fn=fn)
    rng = np.random.default_rng(seed)
    n = len(sums)
    accuracies = np.empty(num_resamples)
    for start in range(0, num_resamples, _CHUNK):
        stop = min(start + _CHUNK, num_resamples)
        draw = rng.integers(0, n, size=(stop - start, n))
        accuracies[start:stop] = sums[draw].sum(axis=1) / counts[draw].sum(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(accuracies, [alpha, 1.0 - alpha])
    return float(low), float(high)


def unit_totals(correct, units=None, *, fn: str = "unit_totals") -> tuple[np.ndarray, np.ndarray]:
    """Correct examples and examples per unit, ``(U,)`` float64 each, units in sorted id order.

    Raises:
      ValueError / TypeError: as :func:`bootstrap_ci` for ``correct`` and ``units``.
    """
    correct = _check_correct(correct, fn)
    if units is None:
        return correct, np.ones_like(correct)
    units = np.asarray(units)
    if units.shape != correct.shape:
        raise ValueError(f"{fn}: units must have shape {correct.shape}, got {units.shape}")
    if not np.issubdtype(units.dtype, np.integer):
        raise TypeError(f"{fn}: units must have an integer dtype, got {units.dtype}")
    _, inverse = np.unique(units, return_inverse=True)
    sums = np.bincount(inverse, weights=correct)
    counts = np.bincount(inverse).astype(np.float64)
    return sums, counts


def majority_class(train_labels) -> int:
    """The most frequent training label (the smallest one on a tie).

    Raises:
      ValueError: ``train_labels`` not a non-empty 1-D array of non-negative ints.
    """
    labels = _check_labels(train_labels, "majority_class", "train_labels")
    return int(np.argmax(np.bincount(labels)))


def majority_baseline(train_labels, test_labels) -> float:
    """Test accuracy of always predicting the training set's most frequent class.

    Args:
      train_labels: ``(N_train,)`` non-negative ints; test_labels: ``(N_test,)`` likewise.

    Raises:
      ValueError: either not a non-empty 1-D array of non-negative ints.
    """
    test = _check_labels(test_labels, "majority_baseline", "test_labels")
    return float(np.mean(test == majority_class(train_labels)))


def score(predictions, labels, units=None, *, seed: int = 0) -> dict:
    """``{"test_accuracy", "test_ci95": [low, high]}`` of predicted classes against labels.

    Args:
      predictions, labels: ``(N,)`` int classes; units: as :func:`bootstrap_ci`.

    Raises:
      ValueError: shapes differ, or as :func:`bootstrap_ci`.
    """
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape or predictions.ndim != 1:
        raise ValueError(
            f"score: predictions must have the 1-D shape of labels {labels.shape}, "
            f"got {predictions.shape}"
        )
    correct = predictions == labels
    return {
        "test_accuracy": float(correct.mean()) if correct.size else float("nan"),
        "test_ci95": list(bootstrap_ci(correct, units, seed=seed)),
    }


def baseline_score(train_labels, test_labels, units=None, *, seed: int = 0) -> dict:
    """The majority baseline scored like a model: ``{"model", "test_accuracy", "test_ci95"}``."""
    test = _check_labels(test_labels, "baseline_score", "test_labels")
    predictions = np.full_like(test, majority_class(train_labels))
    return {"model": "majority class", **score(predictions, test, units, seed=seed)}


def did_not_learn(accuracy: float, baseline_ci95) -> bool:
    """True when ``accuracy`` is not above the majority baseline's interval ``[low, high]``.

    A model inside the interval cannot be told from always answering the majority class; one
    below it is worse than that.

    Raises:
      ValueError: ``baseline_ci95`` not two numbers with low <= high.
    """
    ci = tuple(baseline_ci95) if isinstance(baseline_ci95, list | tuple) else None
    if ci is None or len(ci) != 2 or not all(_checks.is_real(v) for v in ci) or ci[0] > ci[1]:
        raise ValueError(f"did_not_learn: baseline_ci95 must be [low, high], got {baseline_ci95!r}")
    return bool(accuracy <= ci[1])


def mark_rows(rows: list[dict], baseline_ci95) -> list[dict]:
    """Copies of ``rows`` with ``"did_not_learn"`` set on every row that has a test accuracy."""
    return [
        {**r, "did_not_learn": did_not_learn(r["test_accuracy"], baseline_ci95)}
        if r.get("test_accuracy") is not None
        else dict(r)
        for r in rows
    ]


def below_linear(row: dict, linear_accuracy: float, max_epochs: int | None = None) -> str | None:
    """Why ``row``'s model is below the linear baseline, or None when it is not below it.

    Below means the row's whole interval lies under the baseline's test accuracy. The reason is
    read from the row's own training record, first match:

    * ``"under-trained"``: its best dev epoch is the last of ``max_epochs`` (still improving);
    * ``"capacity"``: its training accuracy is below the baseline's test accuracy (it cannot
      fit even its training data as well as the linear model does unseen data);
    * ``"generalisation"``: it fits its training data better than that, but not unseen data;
    * ``"not measured"``: the row lacks the fields to tell.

    Args:
      row: a model row with ``"test_ci95"`` (and, for a reason, ``"best_epoch"``,
        ``"epochs_run"``, ``"train_accuracy"``); linear_accuracy: the baseline's test accuracy;
      max_epochs: the protocol's epoch budget (None: the under-training test is skipped).

    Raises:
      Nothing of its own: a row without an interval is never called below (returns None).
    """
    ci = row.get("test_ci95")
    if not ci or ci[1] >= linear_accuracy:
        return None
    best, run = row.get("best_epoch"), row.get("epochs_run")
    if max_epochs is not None and best is not None and best == run == max_epochs:
        return f"under-trained: best dev epoch is the last of {max_epochs}"
    train = row.get("train_accuracy")
    if train is None:
        return "not measured"
    if train < linear_accuracy:
        return f"capacity: training accuracy {train:.3f}"
    return f"generalisation: training accuracy {train:.3f}"


def format_ci(ci) -> str:
    """``[0.812, 0.826]`` for tables; ``-`` for a missing interval."""
    return "-" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _check_correct(correct, fn: str) -> np.ndarray:
    correct = np.asarray(correct)
    if correct.ndim != 1 or correct.size == 0:
        raise ValueError(f"{fn}: correct must be a non-empty 1-D array, got shape {correct.shape}")
    return correct.astype(np.float64)


def _check_labels(labels, fn: str, arg: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"{fn}: {arg} must be a non-empty 1-D array, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise ValueError(f"{fn}: {arg} must hold non-negative ints, got dtype {labels.dtype}")
    return labels


def with_baselines(rows: list[dict], baseline: dict | None, linear: dict | None) -> list[dict]:
    """The model rows followed by the majority and linear baseline rows, for printed tables.

    Args:
      rows: model rows (``"model"``, ``"test_accuracy"``, ``"test_ci95"``, ...).
      baseline: :func:`baseline_score`'s dict, or None; linear: ``"baseline_linear"``, or None.
    """
    extra = []
    if baseline is not None:
        extra.append({**baseline, "model": f"baseline: {baseline['model']}"})
    if linear is not None:
        extra.append({**linear, "model": f"baseline: {linear['model']}"})
    return [*rows, *extra]


def best_family(accuracy: dict[str, float]) -> str:
    """The family (``"MLP"``, ``"CNN"``, ``"linear"``, ...) with the highest accuracy."""
    return max(accuracy, key=accuracy.get)


def family_ranking(rows: list[dict], families: dict[str, str], linear: dict | None) -> dict:
    """Best test accuracy per family, ``{"MLP": 0.85, "CNN": 0.86, "linear": 0.83}``.

    Args:
      rows: model rows; a row whose model is not in ``families`` is left out (language models).
      families: model name -> family; linear: the ``"baseline_linear"`` dict, or None.
    """
    best: dict[str, float] = {}
    for r in rows:
        fam = families.get(r["model"])
        if fam is not None and r.get("test_accuracy") is not None:
            best[fam] = max(best.get(fam, -1.0), float(r["test_accuracy"]))
    if linear is not None:
        best["linear"] = float(linear["test_accuracy"])
    return dict(sorted(best.items(), key=lambda kv: -kv[1]))


def ranking_note(main: dict, full: dict | None, full_source: str | None) -> str:
    """Markdown lines: the family ranking here, the recorded ``--full`` one, and whether they agree.

    Args:
      main: :func:`family_ranking` of this run; full: the same for a recorded full-size run
        (None: none recorded); full_source: where the full figures come from (command, date,
        commit).
    """

    def order(r):
        return " > ".join(f"{k} {v:.3f}" for k, v in r.items())

    lines = [f"Ranking of the families (best model each), this run: {order(main)}."]
    if not full:
        lines.append("No recorded full-size run to compare with.")
    else:
        agree = best_family(main) == best_family(full)
        lines.append(f"Recorded full-size run ({full_source}): {order(full)}.")
        lines.append(
            f"Best family here {best_family(main)}, at full size {best_family(full)}: "
            + ("they agree." if agree else "they DISAGREE.")
        )
    return "\n".join(lines)


def summarize(rows, train_labels, test_labels, units, linear, families, *, seed: int = 0) -> dict:
    """Everything a pipeline's results.json gains from the comparison, in one call.

    Args:
      rows: model rows with ``"test_accuracy"``; train_labels, test_labels, units: as
        :func:`baseline_score`; linear: the ``"baseline_linear"`` dict; families: model -> family.

    Returns:
      ``{"rows" (marked with "did_not_learn"), "baseline", "baseline_ci95", "baseline_linear",
      "ranking"}``.
    """
    base = baseline_score(train_labels, test_labels, units, seed=seed)
    marked = mark_rows(rows, base["test_ci95"])
    return {
        "rows": marked,
        "baseline": base["test_accuracy"],
        "baseline_ci95": base["test_ci95"],
        "baseline_linear": linear,
        "ranking": family_ranking(marked, families, linear),
    }


def table_rows(summary: dict) -> list[dict]:
    """Model rows plus the baseline rows, intervals printed as text (for results.md)."""
    base = None
    if summary.get("baseline") is not None:
        base = {"model": "majority class", "test_accuracy": summary["baseline"],
                "test_ci95": summary.get("baseline_ci95")}  # fmt: skip
    rows = with_baselines(summary["rows"], base, summary.get("baseline_linear"))
    return [{**r, "test_ci95": format_ci(r.get("test_ci95"))} for r in rows]
