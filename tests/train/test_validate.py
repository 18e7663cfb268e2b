"""fit / evaluate / TrainConfig / Dataset: bad input fails with a named error, before XLA.

Each case crashed deep in tracing, or answered silently wrong, before the checks existed.
"""

from __future__ import annotations

import json
import math

import flax.linen as nn
import jax
import numpy as np
import pytest

from jaxcnn.train import Dataset, TrainConfig, evaluate, fit, predict
from jaxcnn.train.metrics import NonFiniteEvalWarning
from tests.train.helpers import MLP, PoolCNN, digits

CFG = TrainConfig(epochs=1, batch_size=32, progress=False)


@pytest.fixture(scope="module")
def data():
    xt, yt, xe, ye = digits(n_train=64)
    return xt, yt, xe[:64], ye[:64]


class Flat(nn.Module):
    """(N, 8, 8, 1) -> (N,): a model of the wrong output rank."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0]


class PerPosition(nn.Module):
    """(N, 8, 8, 1) -> (N, 3, 10): logits per position, for (N,) labels."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.Dense(10)(x.reshape(x.shape[0], 4, 16)[:, :3, :8])


def test_labels_n_by_1_for_a_b_by_c_model(data):
    xt, yt, *_ = data
    with pytest.raises(ValueError, match=r"train labels must have .*\(1,\).*got \(1, 1\).*squeeze"):
        fit(MLP(), Dataset.from_arrays(xt, yt[:, None]), None, CFG)


@pytest.mark.parametrize("model, got", [(Flat(), r"\(1,\)"), (PerPosition(), r"\(1, 3\)")])
def test_model_of_the_wrong_output_shape(data, model, got):
    xt, yt, *_ = data
    with pytest.raises(ValueError, match=f"fit: .*{got}"):
        fit(model, Dataset.from_arrays(xt, yt), None, CFG)


def test_eval_set_of_another_input_shape(data):
    xt, yt, xe, ye = data
    big = np.zeros((len(ye), 16, 16, 1), np.float32)
    with pytest.raises(ValueError, match=r"eval examples must have the input shape of train"):
        fit(MLP(), Dataset.from_arrays(xt, yt), Dataset.from_arrays(big, ye), CFG)


def test_variables_of_another_model(data):
    xt, yt, *_ = data
    other = PoolCNN().init(jax.random.key(0), xt[:1])
    with pytest.raises(ValueError, match="variables must be the model's"):
        fit(MLP(), Dataset.from_arrays(xt, yt), None, CFG, variables=dict(other))


def test_predict_with_variables_of_another_model(data):
    # was Flax's ScopeParamShapeError / ScopeCollectionNotFound from inside tracing
    xt, yt, *_ = data
    train = Dataset.from_arrays(xt, yt)
    other = PoolCNN().init(jax.random.key(0), xt[:1])
    for variables in (dict(other), {}):
        with pytest.raises(ValueError, match="predict: variables must be the model's"):
            predict(MLP(), variables, train)


@pytest.mark.parametrize(
    "callbacks, match",
    [([3], r"callbacks\[0\] must have a method"), ("x", "callbacks must be a sequence")],
)
def test_callbacks_without_hooks_are_refused(data, callbacks, match):
    # [3] trained without a word: `_notify` skips objects without the hook
    xt, yt, *_ = data
    with pytest.raises(TypeError, match=match):
        fit(MLP(), Dataset.from_arrays(xt, yt), None, CFG, callbacks=callbacks)


def test_workdir_that_is_a_file(data, tmp_path):
    xt, yt, *_ = data
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match="workdir must be a folder"):
        fit(MLP(), Dataset.from_arrays(xt, yt), None, CFG, workdir=tmp_path / "f")


def test_num_classes_smaller_than_the_labels(data):
    xt, yt, *_ = data
    cfg = TrainConfig(epochs=1, batch_size=32, num_classes=5)
    with pytest.raises(ValueError, match="num_classes must be > every label, got 5"):
        fit(MLP(), Dataset.from_arrays(xt, yt), None, cfg)
    variables = MLP().init(jax.random.key(0), xt[:1])
    with pytest.raises(ValueError, match="num_classes must be > every label, got 5"):
        evaluate(MLP(), variables, Dataset.from_arrays(xt, yt), num_classes=5)


def test_int64_labels_checked_before_the_cast(data):
    xt, yt, *_ = data
    y = yt.astype(np.int64)
    y[0] = 2**32 + 3  # int32 would read 3
    with pytest.raises(ValueError, match="y must fit in int32"):
        Dataset.from_arrays(xt, y)
    with pytest.raises(ValueError, match="y must fit in int32"):
        Dataset.streaming(xt, y.astype(np.uint64))


@pytest.mark.parametrize("seed", [2**63, 2**64])
def test_seed_range(seed):
    with pytest.raises(ValueError, match=r"seed must be < 2\*\*63"):
        TrainConfig(seed=seed)
    TrainConfig(seed=2**63 - 1)


def test_nonfinite_eval_loss_warns_and_results_are_strict_json(data, tmp_path):
    xt, yt, xe, ye = data
    variables = MLP().init(jax.random.key(0), xt[:1])
    variables = jax.tree.map(lambda a: np.full_like(a, np.nan), variables)
    with pytest.warns(NonFiniteEvalWarning, match="evaluation loss is nan"):
        m = evaluate(MLP(), variables, Dataset.from_arrays(xe, ye))
    assert math.isnan(m["loss"])
    from jaxcnn.train import results

    results.write_json(tmp_path / "r.json", {"eval": m})
    text = (tmp_path / "r.json").read_text()
    got = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in results"))
    assert got["eval"]["loss"] is None and got["eval"]["loss_nonfinite"] == "nan"


def test_resume_with_nothing_to_train_keeps_the_measured_figures(data, tmp_path):
    xt, yt, xe, ye = data
    train, test = Dataset.from_arrays(xt, yt), Dataset.from_arrays(xe, ye)
    first = fit(MLP(), train, test, CFG, workdir=tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert first.throughput > 0 and saved["throughput_examples_per_s"] == first.throughput
    (tmp_path / "metrics.jsonl").unlink()  # killed before its metrics write
    again = fit(MLP(), train, test, CFG, workdir=tmp_path)
    assert again.compiles == 0  # nothing was trained
    assert again.throughput == first.throughput
    assert again.compile_seconds == first.compile_seconds
    resaved = json.loads((tmp_path / "results.json").read_text())
    assert resaved["throughput_examples_per_s"] == first.throughput
    assert resaved["compile_seconds"] == first.compile_seconds
    rows = [json.loads(r) for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows == json.loads(json.dumps(again.history))


def test_examples_of_another_shape_than_the_variables_are_named(data):
    """The message says the examples do not fit the variables and which variable differs."""
    xt, yt, *_ = data
    variables = MLP().init(jax.random.key(0), xt[:1])
    big = Dataset.from_arrays(np.zeros((4, 16, 16, 1), np.float32), yt[:4])
    for call in (lambda: evaluate(MLP(), variables, big), lambda: predict(MLP(), variables, big)):
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert "examples of shape (16, 16, 1) do not fit these variables" in message
        assert "['Dense_0']['kernel'] has shape (64, 64)" in message
        assert "for these examples the model needs (256, 64)" in message
