"""fit / evaluate / predict on real data (scikit-learn digits) against NumPy references."""

import dataclasses
import json

import flax.linen as nn
import jax
import numpy as np
import pytest

from jaxcnn.train import (
    Dataset,
    NonFiniteLossError,
    TrainConfig,
    evaluate,
    fit,
    init_variables,
    predict,
    programs,
)
from jaxcnn.train.checkpoint import leaves_equal
from jaxcnn.train.optim import decay_mask
from tests.train.helpers import MLP, PoolCNN, SmallCNN, digit_sets, digits


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One real training run shared by several tests (compiling is the expensive part)."""
    workdir = tmp_path_factory.mktemp("digits")
    train, test = digit_sets()
    cfg = TrainConfig(epochs=8, batch_size=32, learning_rate=3e-3, num_classes=10)
    return fit(SmallCNN(), train, test, cfg, workdir=workdir), test, workdir


def test_digits_cnn_reaches_95_percent(digits_run):
    result, _, workdir = digits_run
    assert result.eval["accuracy"] > 0.95
    assert [h["epoch"] for h in result.history] == list(range(1, 9))
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.num_params == 16 * 9 + 16 + 16 * 16 * 10 + 10
    assert result.compiles == 1 and result.throughput > 0
    saved = json.loads((workdir / "results.json").read_text())
    assert saved["num_params"] == result.num_params
    assert saved["final"]["eval"]["accuracy"] == result.eval["accuracy"]
    assert saved["config"]["batch_size"] == 32 and saved["code_version"]
    assert len((workdir / "metrics.jsonl").read_text().splitlines()) == 8
    assert (workdir / "curves.png").stat().st_size > 1000


def _numpy_metrics(logits, y, w, num_classes):
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, y[..., None], -1)[..., 0]
    pred = logits.argmax(-1)
    top5 = (np.argsort(-logits, -1)[..., :5] == y[..., None]).any(-1)
    conf = np.zeros((num_classes, num_classes))
    np.add.at(conf, (y.ravel(), pred.ravel()), w.ravel())
    return {
        "loss": (nll * w).sum() / w.sum(),
        "accuracy": ((pred == y) * w).sum() / w.sum(),
        "top5": (top5 * w).sum() / w.sum(),
        "confusion": conf,
    }


def test_evaluate_covers_every_example_once(digits_run):
    result, test, _ = digits_run
    model, variables = SmallCNN(), result.variables
    # 397 test examples, batch 100: the last batch is padded, padding must count zero times.
    got = evaluate(model, variables, test, batch_size=100, num_classes=10)
    logits = predict(model, variables, test, batch_size=100)
    y = digits()[3]
    assert logits.shape == (397, 10)
    want = _numpy_metrics(logits.astype(np.float64), y, np.ones(397), 10)
    assert got["count"] == 397
    assert got["accuracy"] == pytest.approx(want["accuracy"], abs=1e-6)
    assert got["top5"] == pytest.approx(want["top5"], abs=1e-6)
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)
    np.testing.assert_array_equal(got["confusion"], want["confusion"])
    per_class = np.diag(want["confusion"]) / want["confusion"].sum(1)
    np.testing.assert_allclose(got["per_class"], per_class, rtol=1e-6)


class TokenTagger(nn.Module):
    """(B, L, D) -> (B, L, C) logits: per-token labels."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.Dense(5)(nn.tanh(nn.Dense(16)(x)))


def test_per_token_labels_with_mask_weights():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(96, 7, 3)).astype(np.float32)
    y = (x[..., 0] > 0).astype(np.int32) + 2 * (x[..., 1] > 0)  # a learnable tag per token
    lengths = rng.integers(2, 8, size=96)
    w = (np.arange(7)[None, :] < lengths[:, None]).astype(np.float32)  # padding mask
    ds = Dataset.from_arrays(x, y, weight=w)
    model = TokenTagger()
    result = fit(model, ds, ds, TrainConfig(epochs=30, batch_size=16, learning_rate=1e-2))
    assert result.eval["accuracy"] > 0.9
    logits = predict(model, result.variables, ds, batch_size=40).astype(np.float64)
    want = _numpy_metrics(logits, y, w, 5)
    assert result.eval["count"] == pytest.approx(w.sum())
    assert result.eval["accuracy"] == pytest.approx(want["accuracy"], abs=1e-6)
    assert result.eval["loss"] == pytest.approx(want["loss"], rel=1e-5)


def test_compiles_once_per_shape_across_epochs():
    events = []

    def listener(name, seconds, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            events.append(name)

    xs, ys = digits()[:2]
    bucket1 = Dataset.from_arrays(xs[:200], ys[:200])
    bucket2 = Dataset.from_arrays(xs[200:360, 1:7, 1:7], ys[200:360])  # another shape
    cfg = TrainConfig(epochs=1, batch_size=32, steps_per_call=4)
    buckets = [bucket1, bucket2]
    fit(PoolCNN(), buckets, bucket1, cfg)  # warm the eager helpers' caches (model.init, ...)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        counts = []
        for epochs in (1, 3):
            events.clear()
            programs.clear()  # compile as a fresh process would, not reuse the warm-up's
            r = fit(PoolCNN(), buckets, bucket1, dataclasses.replace(cfg, epochs=epochs))
            counts.append(len(events))
            assert r.compiles == 2  # one training call per bucket
    finally:
        jax.monitoring.clear_event_listeners()
    # 6 and 5 steps per epoch in chunks of 4, the last padded: still one shape per bucket,
    # and the per-epoch evaluation compiles once too.
    assert counts[0] == counts[1] > 0


def test_nan_in_data_stops_with_the_documented_error(tmp_path):
    xt, yt, _, _ = digits()
    xt = xt.copy()
    xt[5, 3, 3, 0] = np.nan
    ds = Dataset.from_arrays(xt, yt)
    cfg = TrainConfig(epochs=2, batch_size=1400, checkpoint_every=1)
    with pytest.raises(
        NonFiniteLossError, match="loss must be finite.* at step 0 .*checkpoint: none"
    ):
        fit(MLP(hidden=8), ds, None, cfg, workdir=tmp_path)
    assert issubclass(NonFiniteLossError, FloatingPointError)


def test_frozen_parameters_do_not_change_and_batch_stats_update():
    train, _ = digit_sets()
    model = MLP(hidden=16, norm=True)
    cfg = TrainConfig(
        epochs=1, batch_size=64, optimizer="adamw", weight_decay=0.1, frozen=("Dense_0/*",)
    )
    init = init_variables(model, train, seed=0)
    out = fit(model, train, None, cfg, variables=init).variables
    assert leaves_equal(out["params"]["Dense_0"], init["params"]["Dense_0"])
    assert not np.allclose(out["params"]["Dense_1"]["kernel"], init["params"]["Dense_1"]["kernel"])
    assert not np.allclose(
        out["batch_stats"]["BatchNorm_0"]["mean"], init["batch_stats"]["BatchNorm_0"]["mean"]
    )
    with pytest.raises(
        ValueError, match="fit: frozen pattern 'Conv_0/\\*' must match a parameter path"
    ):
        fit(model, train, None, TrainConfig(epochs=1, batch_size=64, frozen=("Conv_0/*",)))


def test_weight_decay_mask_skips_biases_and_norm_scales():
    params = {
        "Dense_0": {"kernel": np.ones((3, 2)), "bias": np.ones(2)},
        "BatchNorm_0": {"scale": np.ones(2)},
    }
    assert decay_mask(params) == {
        "Dense_0": {"kernel": True, "bias": False},
        "BatchNorm_0": {"scale": False},
    }


def test_same_seed_same_bits():
    xs, ys = digits()[:2]
    train = Dataset.from_arrays(xs[:320], ys[:320])
    model = MLP(hidden=16, dropout=0.2)
    cfg = TrainConfig(
        epochs=2,
        batch_size=64,
        optimizer="sgd",
        learning_rate=0.05,
        schedule="cosine",
        grad_clip=1.0,
    )
    a = fit(model, train, None, cfg).variables
    b = fit(model, train, None, cfg).variables
    assert leaves_equal(a, b)


def test_argument_errors():
    train, test = digit_sets()
    with pytest.raises(TypeError, match="fit: config must be a TrainConfig, got dict"):
        fit(MLP(), train, test, {"epochs": 1})
    with pytest.raises(TypeError, match="fit: train must be a Dataset or a non-empty sequence"):
        fit(MLP(), [], test, TrainConfig())
    with pytest.raises(
        ValueError, match="fit: batch_size must be <= every bucket's size, got 2048"
    ):
        fit(MLP(), train, test, TrainConfig(batch_size=2048))
    with pytest.raises(ValueError, match="evaluate: batch_size must be a positive int, got 0"):
        evaluate(MLP(), {}, test, batch_size=0)
    with pytest.raises(TypeError, match="predict: dataset must be a Dataset, got tuple"):
        predict(MLP(), {}, (1, 2))


def test_labels_outside_the_models_classes_raise_before_training():
    # Before: label 10 for a 10-way model trained with a NaN loss (NonFiniteLossError after the
    # first call), and label -1 likewise; with label smoothing its target was silently all zero.
    xt, yt, xe, ye = digits(256)
    cfg = TrainConfig(epochs=1, batch_size=64)
    for bad in (10, -1):
        y = yt.copy()
        y[5] = bad
        lo, hi = min(bad, int(yt.min())), max(bad, int(yt.max()))
        match = rf"fit: train labels must be in \[0, 10\) .* got min {lo}, max {hi}"
        with pytest.raises(ValueError, match=match):
            fit(MLP(), Dataset.from_arrays(xt, y), None, cfg)
        with pytest.raises(ValueError, match=match):
            fit(MLP(), Dataset.streaming(xt, y), None, cfg)
    y = ye.copy()
    y[0] = 12
    with pytest.raises(ValueError, match=r"fit: eval labels must be in \[0, 10\)"):
        fit(MLP(), Dataset.from_arrays(xt, yt), Dataset.from_arrays(xe, y), cfg)
    variables = MLP().init(jax.random.key(0), xe[:1])
    with pytest.raises(ValueError, match=r"evaluate: dataset labels must be in \[0, 10\)"):
        evaluate(MLP(), variables, Dataset.from_arrays(xe, y))
