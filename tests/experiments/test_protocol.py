"""experiments.protocol: early stopping, the best-dev variables tested once, intervals."""

import flax.linen as nn
import jax
import numpy as np
import pytest
from jaxcnn.experiments import protocol

from jaxcnn.train import Callback, Dataset, TrainConfig, fit


class _Linear(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.Dense(2)(x)


def _data(seed=0, n=256):
    """Training labels follow x0 > 0; dev labels the opposite rule, so learning lowers dev
    accuracy: the best dev epoch comes early and the last epoch is not the best."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    xd = rng.normal(size=(n, 4)).astype(np.float32)
    yd = (xd[:, 0] <= 0).astype(np.int32)
    return Dataset.from_arrays(x, y), Dataset.from_arrays(xd, yd), xd, yd


class _Record(Callback):
    """Host copies of the variables at every epoch end."""

    def __init__(self):
        self.by_epoch = {}

    def on_epoch_end(self, ctx):
        self.by_epoch[ctx.epoch] = jax.device_get(ctx.state.variables)


def _run(plan):
    train, dev, xd, yd = _data()
    records, tested = {}, []

    def fit_one(lr, seed):
        records[(lr, seed)] = rec = _Record()
        config = TrainConfig(epochs=plan.max_epochs, batch_size=32, learning_rate=lr,
                             seed=seed, progress=False, num_classes=2)  # fmt: skip
        return fit(_Linear(), train, dev, config, callbacks=[*protocol.callbacks(plan), rec])

    def test_correct(variables):
        tested.append(variables)
        logits = np.asarray(_Linear().apply(variables, xd))
        return logits.argmax(axis=1) == yd

    entry, correct, histories = protocol.run_model(
        fit_one, test_correct, plan, family="MLP", flops=16
    )
    return entry, correct, histories, records, tested


def test_early_stopping_stops_and_the_best_epoch_is_tested_once_per_model():
    plan = protocol.Protocol(max_epochs=12, patience=2, learning_rates=(3e-2,), seeds=2)
    entry, correct, histories, records, tested = _run(plan)
    assert len(tested) == plan.seeds == len(entry["seeds"]) == correct.shape[0]  # read once each
    for i, (s, history) in enumerate(zip(entry["seeds"], histories, strict=True)):
        dev = [h["eval_accuracy"] for h in history]
        best = int(np.argmax(dev)) + 1
        assert s["best_epoch"] == best and s["epochs_run"] == len(history)
        # stopped: patience epochs after the best, long before the budget
        assert s["epochs_run"] == best + plan.patience < plan.max_epochs
        # the variables tested are the best epoch's, not the last epoch's
        kept = records[(3e-2, i)].by_epoch
        assert jax.tree.all(jax.tree.map(np.array_equal, tested[i], kept[best]))
        assert not jax.tree.all(jax.tree.map(np.array_equal, tested[i], kept[len(history)]))
        assert s["test_accuracy"] == pytest.approx(correct[i].mean())
    assert entry["test_accuracy"] == pytest.approx(correct.mean())
    assert entry["test_ci95"][0] <= entry["test_accuracy"] <= entry["test_ci95"][1]


def test_the_learning_rate_is_chosen_on_dev():
    # dev rewards not learning (its labels follow the opposite rule): the smallest rate wins,
    # and every seed then uses it
    plan = protocol.Protocol(max_epochs=3, patience=1, learning_rates=(1e-4, 1e-1), seeds=1)
    entry, *_ = _run(plan)
    dev = entry["dev_by_learning_rate"]
    assert entry["learning_rate"] == max((1e-4, 1e-1), key=lambda r: dev[f"{r:g}"])
    assert dev["0.0001"] > dev["0.1"]


def test_seed_mean_interval_covers_the_true_accuracy_and_paired_difference_its_difference():
    # Synthetic predictions: two models over 300 units, per-unit accuracy 0.75 and 0.65 on
    # average, 3 seeds each; over 150 simulated test sets the intervals cover the true value
    # at about 95%.
    rng = np.random.default_rng(0)
    hits_mean = hits_diff = 0
    trials = 150
    for t in range(trials):
        units = np.repeat(np.arange(300), 4)
        pa = np.clip(0.75 + 0.15 * rng.standard_normal(300), 0, 1)[units]
        pb = np.clip(pa - 0.10, 0, 1)
        a = rng.random((3, units.size)) < pa
        b = rng.random((3, units.size)) < pb
        low, high = protocol.compare.bootstrap_ci(a.mean(axis=0), units, seed=t)
        hits_mean += low <= pa.mean() <= high
        d = protocol.paired_difference(a, b, units, seed=t)
        hits_diff += d["ci95"][0] <= (pa - pb).mean() <= d["ci95"][1]
        assert d["mean"] == pytest.approx(a.mean() - b.mean())
    assert 0.88 <= hits_mean / trials <= 1.0
    assert 0.88 <= hits_diff / trials <= 1.0


def test_paired_difference_of_a_model_with_itself_is_zero_and_shapes_are_checked():
    a = np.random.default_rng(1).random((2, 50)) < 0.5
    d = protocol.paired_difference(a, a)
    assert d["mean"] == 0 and d["ci95"] == [0.0, 0.0] and d["per_seed"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="correct_a and correct_b must be"):
        protocol.paired_difference(a, a[:1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_epochs": 0, "patience": 1, "learning_rates": (1e-3,)}, "max_epochs"),
        ({"max_epochs": 2, "patience": 1, "learning_rates": ()}, "learning_rates"),
        ({"max_epochs": 2, "patience": 1, "learning_rates": (-1.0,)}, "learning_rates"),
        ({"max_epochs": 2, "patience": 1, "learning_rates": (1e-3,), "seeds": 0}, "seeds"),
    ],
)
def test_bad_protocols_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        protocol.Protocol(**kwargs)


def test_crossover_finds_the_budget_from_which_the_cnn_family_wins():
    def pt(fam, params, acc, half=0.01):
        return {"family": fam, "params": params, "flops": params * 2, "test_accuracy": acc,
                "test_ci95": [acc - half, acc + half]}  # fmt: skip

    sweep = [pt("MLP", 1000, 0.50), pt("MLP", 10000, 0.60), pt("MLP", 100000, 0.65),
             pt("CNN", 2000, 0.505), pt("CNN", 20000, 0.70), pt("CNN", 200000, 0.75)]  # fmt: skip
    out = protocol.crossover(sweep)
    assert out["from_budget"] == 20000
    at = {r["budget"]: r for r in out["budgets"]}
    assert at[2000]["beats"] is False and at[1000]["large"] is None
    assert at[20000]["difference"] == pytest.approx(0.10)
    note = protocol.crossover_note(sweep)
    assert "From 20,000 parameters on" in note and "+0.100" in note
    # without one family (an empty sweep: `--sweep none`) there is no verdict, not a "no"
    assert protocol.crossover_note([]) == (
        "No MLP and no CNN model in this run's sweep: no crossover to report.\n"
    )
    only_cnn = protocol.crossover_note([p for p in sweep if p["family"] == "CNN"])
    assert only_cnn.startswith("No MLP model") and "does not beat" not in only_cnn


def test_the_protocol_flags_change_only_what_was_given():
    import argparse
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Config:
        patience: int = 2
        seeds: int = 1
        learning_rates: tuple = (1e-3,)

    parser = protocol.add_args(argparse.ArgumentParser())
    same = protocol.apply_args(Config(), parser.parse_args([]))
    assert same == Config()
    changed = protocol.apply_args(
        Config(),
        parser.parse_args(["--patience", "7", "--seeds", "3", "--learning-rates", "2e-3,4e-3"]),
    )
    assert changed == Config(patience=7, seeds=3, learning_rates=(2e-3, 4e-3))
    with pytest.raises(ValueError, match="patience"):
        protocol.Protocol(5, changed.patience - 7, changed.learning_rates)
