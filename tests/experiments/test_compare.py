"""experiments.compare: unit bootstrap intervals, the majority baseline, "did not learn"."""

import numpy as np
import pytest
from jaxcnn.experiments import compare


def _clustered(rng, num_units=60, mean=0.7, concentration=4.0):
    """Frames grouped in units of 5-40 frames; each unit has its own accuracy ~ Beta(mean)."""
    sizes = rng.integers(5, 41, size=num_units)
    p = rng.beta(mean * concentration, (1 - mean) * concentration, size=num_units)
    units = np.repeat(np.arange(num_units), sizes)
    correct = rng.random(units.size) < p[units]
    return correct, units


def _coverage(num_sets, units_given, seed=0):
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(num_sets):
        correct, units = _clustered(rng)
        low, high = compare.bootstrap_ci(correct, units if units_given else None, seed=i)
        hits += low <= 0.7 <= high
    return hits / num_sets


def test_unit_bootstrap_covers_the_true_accuracy_at_about_the_nominal_rate():
    # 400 simulated test sets whose true accuracy is 0.7 (sizes independent of unit accuracy,
    # so the ratio estimator targets the mean unit accuracy). Tolerance: the Monte Carlo
    # standard error is 0.011, and a percentile bootstrap over 60 units under-covers by
    # about 0.01-0.02; 0.90-0.99 rejects both a too-narrow and a too-wide interval.
    coverage = _coverage(400, units_given=True)
    assert 0.90 <= coverage <= 0.99, coverage


def test_resampling_frames_instead_of_units_would_under_cover_on_the_same_data():
    # The data above discriminate: treating frames as independent gives far too narrow
    # intervals, so an implementation that ignored `units` fails the test above.
    assert _coverage(200, units_given=False) < 0.75


def test_interval_width_is_that_of_the_units_not_the_frames():
    # 50 units of 200 identical frames each (all right or all wrong): the accuracy is a mean
    # of 50 coin flips, whose standard error is sqrt(p(1-p)/50), not sqrt(p(1-p)/10000).
    rng = np.random.default_rng(1)
    unit_right = rng.random(50) < 0.6
    units = np.repeat(rng.permutation(1000)[:50], 200)  # arbitrary ids, any order
    order = rng.permutation(units.size)
    units = units[order]
    correct = np.repeat(unit_right, 200)[order]
    p = unit_right.mean()
    low, high = compare.bootstrap_ci(correct, units, seed=0)
    expected = 2 * 1.96 * np.sqrt(p * (1 - p) / 50)
    assert abs((high - low) - expected) < 0.2 * expected
    assert low < p < high


def test_per_example_units_match_the_binomial_width_and_the_seed_fixes_the_interval():
    rng = np.random.default_rng(2)
    correct = rng.random(4000) < 0.8
    p = correct.mean()
    low, high = compare.bootstrap_ci(correct, seed=3)
    assert abs((high - low) - 2 * 1.96 * np.sqrt(p * (1 - p) / 4000)) < 0.003
    assert compare.bootstrap_ci(correct, seed=3) == (low, high)
    assert compare.bootstrap_ci(correct, np.arange(4000), seed=3) == (low, high)
    assert compare.bootstrap_ci(correct, seed=4) != (low, high)


def test_unit_totals_against_a_loop():
    correct = np.array([1, 0, 1, 1, 0, 1], bool)
    units = np.array([7, 3, 7, 3, 9, 7])
    sums, counts = compare.unit_totals(correct, units)
    ref = {u: (correct[units == u].sum(), (units == u).sum()) for u in sorted(set(units))}
    assert sums.tolist() == [ref[u][0] for u in ref]
    assert counts.tolist() == [ref[u][1] for u in ref]


def _majority_loop(train, test):
    counts = {}
    for y in train:
        counts[int(y)] = counts.get(int(y), 0) + 1
    best = min(counts, key=lambda c: (-counts[c], c))  # most frequent, smallest on a tie
    return sum(int(y) == best for y in test) / len(test)


@pytest.mark.parametrize("seed", range(5))
def test_majority_baseline_against_a_loop(seed):
    rng = np.random.default_rng(seed)
    train = rng.integers(0, 6, size=rng.integers(1, 40))
    test = rng.integers(0, 6, size=50)
    assert compare.majority_baseline(train, test) == pytest.approx(_majority_loop(train, test))


def test_majority_tie_goes_to_the_smallest_class_and_scores_on_test_labels():
    assert compare.majority_class([3, 1, 3, 1, 2]) == 1
    assert compare.majority_baseline([0, 2, 2], [2, 2, 0, 1]) == 0.5
    base = compare.baseline_score([0, 2, 2], np.array([2, 2, 0, 1]))
    assert base["model"] == "majority class" and base["test_accuracy"] == 0.5
    low, high = base["test_ci95"]
    assert 0 <= low <= 0.5 <= high <= 1


def test_did_not_learn_is_at_or_below_the_baseline_interval():
    assert compare.did_not_learn(0.06, [0.05, 0.07])
    assert compare.did_not_learn(0.01, [0.05, 0.07])  # worse than the majority class
    assert not compare.did_not_learn(0.0701, [0.05, 0.07])
    rows = compare.mark_rows([{"model": "a", "test_accuracy": 0.3}, {"model": "lm"}], (0.1, 0.2))
    assert rows == [{"model": "a", "test_accuracy": 0.3, "did_not_learn": False}, {"model": "lm"}]


def test_below_linear_needs_the_whole_interval_under_the_baseline():
    def row(high, **kw):
        return {"test_ci95": [high - 0.02, high], **kw}

    assert compare.below_linear(row(0.60), 0.60) is None  # the interval reaches it
    assert compare.below_linear(row(0.59999), 0.60) == "not measured"
    assert compare.below_linear({"test_accuracy": 0.1}, 0.60) is None  # no interval, no verdict
    late = row(0.5, best_epoch=5, epochs_run=5, train_accuracy=0.99)
    assert compare.below_linear(late, 0.6, 5).startswith("under-trained")
    # without the budget the last-epoch rule cannot apply; the training record decides
    assert compare.below_linear(late, 0.6) == "generalisation: training accuracy 0.990"
    # stopped early at its budget's length is not "best at the last epoch"
    early = row(0.5, best_epoch=3, epochs_run=5, train_accuracy=0.55)
    assert compare.below_linear(early, 0.6, 5) == "capacity: training accuracy 0.550"


def test_score_gives_accuracy_and_interval():
    out = compare.score(np.array([1, 2, 3, 3]), np.array([1, 2, 0, 3]), np.array([0, 0, 1, 1]))
    assert out["test_accuracy"] == 0.75
    assert len(out["test_ci95"]) == 2 and out["test_ci95"][0] <= 0.75 <= out["test_ci95"][1]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: compare.bootstrap_ci(np.ones((2, 2))), ValueError, "correct must be a non-empty"),
        (lambda: compare.bootstrap_ci([], None), ValueError, "correct must be a non-empty"),
        (lambda: compare.bootstrap_ci([1, 0], [0]), ValueError, r"units must have shape \(2,\)"),
        (lambda: compare.bootstrap_ci([1, 0], [0.0, 1.0]), TypeError, "integer dtype"),
        (lambda: compare.bootstrap_ci([1, 0], seed=0.5), TypeError, "seed must be an int"),
        (lambda: compare.bootstrap_ci([1, 0], level=1.0), ValueError, r"level must be .* \(0, 1\)"),
        (lambda: compare.bootstrap_ci([1], num_resamples=0), ValueError, "num_resamples"),
        (lambda: compare.majority_baseline([], [1]), ValueError, "train_labels must be"),
        (lambda: compare.majority_baseline([1], [-1]), ValueError, "test_labels must hold"),
        (lambda: compare.did_not_learn(0.5, [0.7, 0.6]), ValueError, "baseline_ci95"),
        (lambda: compare.score([1, 2], [1]), ValueError, "predictions must have"),
    ],
)
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_family_ranking_and_the_note_say_which_family_wins_and_whether_sizes_agree():
    rows = [
        {"model": "bag", "test_accuracy": 0.53},
        {"model": "kim_a", "test_accuracy": 0.55},
        {"model": "kim_b", "test_accuracy": 0.58},
        {"model": "lm", "test_accuracy": 0.34},  # not a classifier family: left out
    ]
    families = {"bag": "MLP", "kim_a": "CNN", "kim_b": "CNN"}
    linear = {"model": "tfidf", "test_accuracy": 0.63, "test_ci95": [0.61, 0.65]}
    ranking = compare.family_ranking(rows, families, linear)
    assert ranking == {"linear": 0.63, "CNN": 0.58, "MLP": 0.53}
    assert list(ranking) == ["linear", "CNN", "MLP"]
    full = {"CNN": 0.788, "linear": 0.753, "MLP": 0.71}
    note = compare.ranking_note(ranking, full, "a full run")
    assert "linear 0.630 > CNN 0.580 > MLP 0.530" in note and "they DISAGREE" in note
    assert "they agree" in compare.ranking_note(full, full, "a full run")
    assert "No recorded full-size run" in compare.ranking_note(ranking, None, None)


def test_summarize_marks_rows_against_the_majority_interval():
    train = np.array([0, 0, 0, 1, 2])
    test = np.array([0, 1, 2, 0] * 50)  # majority class 0: accuracy 0.5
    rows = [{"model": "a", "test_accuracy": 0.5}, {"model": "b", "test_accuracy": 0.9}]
    linear = {"model": "lin", "test_accuracy": 0.7, "test_ci95": [0.6, 0.8]}
    out = compare.summarize(rows, train, test, None, linear, {"a": "MLP", "b": "CNN"})
    assert out["baseline"] == 0.5 and out["baseline_linear"] is linear
    assert [r["did_not_learn"] for r in out["rows"]] == [True, False]
    table = compare.table_rows(out)
    assert [r["model"] for r in table][-2:] == ["baseline: majority class", "baseline: lin"]
    assert table[-1]["test_ci95"] == "[0.600, 0.800]"
