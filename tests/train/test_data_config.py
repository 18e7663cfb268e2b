"""TrainConfig checks, Dataset, shuffling and index matrices, results I/O and CLI flags."""

import argparse
import json

import numpy as np
import pytest

from jaxcnn.train import Dataset, TrainConfig
from jaxcnn.train.cli import add_common_args, apply_overrides
from jaxcnn.train.data import epoch_order, eval_index_matrix, train_index_matrix
from jaxcnn.train.results import markdown_table, plot_curves, write_json, write_jsonl


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"epochs": 0}, ValueError, "TrainConfig: epochs must be >= 1, got 0"),
        ({"batch_size": 2.0}, TypeError, "TrainConfig: batch_size must be an int, got float"),
        ({"optimizer": "rmsprop"}, ValueError, "TrainConfig: optimizer must be one of"),
        ({"schedule": "step"}, ValueError, "TrainConfig: schedule must be one of"),
        ({"learning_rate": 0.0}, ValueError, "TrainConfig: learning_rate must be > 0"),
        ({"grad_clip": -1.0}, ValueError, "TrainConfig: grad_clip must be > 0 or None"),
        ({"label_smoothing": 1.0}, ValueError, r"TrainConfig: label_smoothing must be in \[0, 1\)"),
        ({"steps_per_call": 0}, ValueError, "TrainConfig: steps_per_call must be >= 1"),
        ({"frozen": "Dense_0/*"}, TypeError, "TrainConfig: frozen must be a tuple of str"),
        ({"weight_decay": float("nan")}, ValueError, "TrainConfig: weight_decay must be finite"),
        ({"learning_rate": float("inf")}, ValueError, "TrainConfig: learning_rate must be finite"),
        ({"momentum": float("nan")}, ValueError, "TrainConfig: momentum must be finite, got nan"),
        (
            {"learning_rate": "1e-3"},
            TypeError,
            "TrainConfig: learning_rate must be a number, got str",
        ),
        (
            {"weight_decay": None},
            TypeError,
            "TrainConfig: weight_decay must be a number, got NoneType",
        ),
    ],
)
def test_config_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        TrainConfig(**kwargs)


def test_from_arrays_errors():
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="Dataset.from_arrays: y must have an integer dtype"):
        Dataset.from_arrays(x, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="Dataset.from_arrays: x must have leading axis N=5"):
        Dataset.from_arrays(x, np.zeros(5, np.int32))
    with pytest.raises(ValueError, match=r"Dataset.from_arrays: weight must have shape \(4,\)"):
        Dataset.from_arrays(x, np.zeros(4, np.int32), np.ones((4, 2)))
    with pytest.raises(ValueError, match="Dataset: size must be a positive int, got 0"):
        Dataset(arrays={}, take=lambda a, i: a, size=0)
    with pytest.raises(ValueError, match="Dataset: size must be a positive int, got True"):
        Dataset(arrays={}, take=lambda a, i: a, size=True)  # was accepted as a size of 1


def test_from_arrays_take_gathers_rows():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    y = np.array([0, 1, 2, 3, 4], np.int32)
    ds = Dataset.from_arrays({"a": x}, y, weight=np.linspace(0, 1, 5))
    batch = ds.take(ds.arrays, np.array([4, 0], np.int32))
    np.testing.assert_array_equal(batch["x"]["a"], x[[4, 0]])
    np.testing.assert_array_equal(batch["y"], [4, 0])
    np.testing.assert_allclose(batch["weight"], [1.0, 0.0])


def test_shuffling_is_a_pure_function_of_seed_and_epoch():
    a, b = epoch_order(7, 3, 100), epoch_order(7, 3, 100)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.sort(a), np.arange(100))
    assert not np.array_equal(a, epoch_order(7, 4, 100))
    assert not np.array_equal(a, epoch_order(8, 3, 100))


def test_train_matrix_drops_only_the_partial_batch():
    m = train_index_matrix(0, 0, 103, 10)
    assert m.shape == (10, 10)
    assert len(np.unique(m)) == 100  # 3 examples left out this epoch, none repeated


def test_eval_matrix_covers_every_example_once():
    idx, valid = eval_index_matrix(103, 10)
    assert idx.shape == valid.shape == (11, 10)
    counts = np.bincount(idx[valid > 0], minlength=103)
    np.testing.assert_array_equal(counts, np.ones(103))
    assert valid.sum() == 103


def test_plot_curves_format_follows_the_extension(tmp_path):
    # The temp file was "curves.svg.tmp.png", so an .svg or .pdf path received PNG bytes.
    history = [{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5}]
    plot_curves(history, tmp_path / "c.svg")
    assert b"<svg" in (tmp_path / "c.svg").read_bytes()[:1000]
    plot_curves(history, tmp_path / "c.pdf")
    assert (tmp_path / "c.pdf").read_bytes()[:5] == b"%PDF-"
    plot_curves(history, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pdf", "c.png", "c.svg"]


def test_results_files(tmp_path):
    write_json(tmp_path / "r.json", {"a": np.float32(1.5), "b": np.arange(3)})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1.5, "b": [0, 1, 2]}
    write_jsonl(tmp_path / "m.jsonl", [{"epoch": 1}, {"epoch": 2}])
    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    assert [json.loads(s)["epoch"] for s in lines] == [1, 2]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp left
    table = markdown_table([{"model": "mlp", "acc": 0.98765}], ["model", "acc"])
    assert table.splitlines() == ["| model | acc |", "|---|---|", "| mlp | 0.9877 |"]


def test_cli_flags_override_config():
    parser = add_common_args(argparse.ArgumentParser())
    args = parser.parse_args(["--workdir", "w", "--seed", "5", "--epochs", "3", "--quick"])
    assert (args.workdir, args.seed, args.epochs, args.batch_size, args.quick) == (
        "w",
        5,
        3,
        None,
        True,
    )
    cfg = apply_overrides(TrainConfig(batch_size=64), args)
    assert (cfg.seed, cfg.epochs, cfg.batch_size) == (5, 3, 64)


def test_summarize_keeps_fractional_confusion_weights():
    # Fractional weights were rounded to ints: 0.5 -> 0, 2.5 -> 2.
    import jax.numpy as jnp

    from jaxcnn.train.metrics import metric_sums, summarize

    logits = jnp.array([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0]])
    labels = jnp.array([0, 0, 1])
    ones = summarize(metric_sums(logits, labels, jnp.ones(3), num_classes=2))
    assert ones["confusion"] == [[1, 1], [0, 1]]
    assert all(type(v) is int for row in ones["confusion"] for v in row)
    half = summarize(metric_sums(logits, labels, jnp.array([0.5, 2.5, 1.0]), num_classes=2))
    assert half["confusion"] == [[0.5, 2.5], [0.0, 1.0]]
    assert all(type(v) is float for row in half["confusion"] for v in row)
    assert json.loads(json.dumps(half))["confusion"] == [[0.5, 2.5], [0.0, 1.0]]
