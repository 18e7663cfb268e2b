"""experiments.linear_baseline on data a linear model can and cannot separate (no corpus)."""

import numpy as np
import pytest
from jaxcnn.audio import windows
from jaxcnn.experiments import linear_baseline

from jaxcnn.train import Dataset


def _bank(rng, weights, utterances=12, frames=60):
    """Utterances of random 40-dim frames; a frame's label is argmax of its centre frame @ W.

    The other 20 frames of a window are noise: 840 inputs need thousands of frames to not
    be fitted by noise alone (720 frames gave train 1.0, test 0.42).
    """
    items = []
    for _ in range(utterances):
        feats = rng.normal(size=(frames, 40)).astype(np.float32)
        items.append((feats, (feats @ weights).argmax(axis=1).astype(np.int32)))
    return windows.build_bank(items, num_classes=weights.shape[1])


def test_windows_baseline_learns_a_linear_rule_and_scores_by_utterance():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(40, 4))
    train, test = _bank(rng, w, utterances=40, frames=200), _bank(rng, w, utterances=6)
    out = linear_baseline.windows_baseline(
        windows.to_dataset(train), windows.to_dataset(test), test.labels, test.utterance, 4,
        seed=0, training={"epochs": 10},
    )  # fmt: skip
    assert {"model", "test_accuracy", "test_ci95"} <= set(out)
    assert out["test_accuracy"] > 0.6  # chance 0.25; 0.78 measured (800 noise inputs)
    assert out["params"] == 21 * 40 * 4 + 4
    low, high = out["test_ci95"]
    assert low <= out["test_accuracy"] <= high


def test_input_stats_match_numpy_over_all_windows_in_chunks():
    rng = np.random.default_rng(1)
    bank = _bank(rng, rng.normal(size=(40, 3)), utterances=3, frames=25)
    mean, std = linear_baseline.input_stats(windows.to_dataset(bank), chunk=7)
    every = windows.naive_windows(bank, range(bank.size)).astype(np.float64)
    np.testing.assert_allclose(mean, every.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(std, every.std(axis=0), atol=1e-4)
    with pytest.raises(ValueError, match="chunk must be a positive int"):
        linear_baseline.input_stats(windows.to_dataset(bank), chunk=0)


def test_softmax_regression_on_xor_stays_near_chance():
    # XOR is not linearly separable: a baseline that "learns" it would be no linear model.
    rng = np.random.default_rng(2)
    x = rng.choice([-1.0, 1.0], size=(512, 2)).astype(np.float32)
    y = ((x[:, 0] * x[:, 1]) > 0).astype(np.int32)
    data = Dataset.from_arrays(x, y)
    out = linear_baseline.softmax_regression(data, data, 2, x.mean(0), x.std(0), epochs=5)
    assert abs(np.mean(out["predictions"] == y) - 0.5) < 0.15


def test_tfidf_baseline_reads_words_and_bigrams_and_picks_c_on_dev():
    pytest.importorskip("sklearn")
    texts = ["red apple", "green apple", "red car", "green car"] * 10
    labels = np.array([0, 0, 1, 1] * 10)
    out = linear_baseline.tfidf_logistic_regression(
        texts, labels, ["a red apple", "a fast car"], texts[:4], labels[:4], c_grid=(1.0, 10.0)
    )
    assert out["predictions"].tolist() == [0, 1]
    assert out["features"] == 4 + 4  # apple car green red + 4 bigrams (min_df=2)
    assert out["C"] == 1.0 and out["dev_accuracy"] == 1.0  # ties keep the first C
    with pytest.raises(ValueError, match="train_labels must have shape"):
        linear_baseline.tfidf_logistic_regression(texts, labels[:3], texts)


def test_cached_reuses_the_row_for_the_same_key_only(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"test_accuracy": 0.5 + len(calls)}

    path = tmp_path / "linear" / "row.json"
    first = linear_baseline.cached(path, {"a": 1}, compute)
    assert linear_baseline.cached(path, {"a": 1}, compute) == first and len(calls) == 1
    assert linear_baseline.cached(path, {"a": 2}, compute) != first and len(calls) == 2
    path.write_text('{"key": {"a": 2}, "ro')  # damaged: recomputed, not an error
    linear_baseline.cached(path, {"a": 2}, compute)
    assert len(calls) == 3
