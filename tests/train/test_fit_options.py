"""fit's optimizer=, loss=, metrics=, optax schedules, and evaluate/predict compiling once."""

import jax
import numpy as np
import optax
import pytest
from jaxcnn.text.compiles import count_compiles

from jaxcnn.train import Dataset, TrainConfig, evaluate, fit, init_variables, predict
from jaxcnn.train.checkpoint import leaves_equal
from tests.train.helpers import MLP, SmallCNN, digit_sets, digits


def focal_loss(logits, labels, weight, gamma=2.0):
    """Focal loss (Lin et al. 2017): -(1 - p_y)^gamma log p_y per example."""
    logp = jax.nn.log_softmax(logits.astype("float32"))
    logp_y = jax.numpy.take_along_axis(logp, labels[..., None], -1)[..., 0]
    return -((1.0 - jax.numpy.exp(logp_y)) ** gamma) * logp_y


def _numpy_focal(logits, y, gamma=2.0):
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    lp = logp[np.arange(len(y)), y]
    return float(np.mean(-((1 - np.exp(lp)) ** gamma) * lp))


def test_optax_chain_and_focal_loss_train():
    train, test = digit_sets()
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.lion(1e-3))
    cfg = TrainConfig(epochs=4, batch_size=32, progress=False)
    model = MLP(hidden=64)
    result = fit(model, train, test, cfg, optimizer=tx, loss=focal_loss)
    assert result.eval["accuracy"] > 0.9
    # the reported eval loss is the focal loss (NumPy reference on predict's logits)
    logits = predict(model, result.variables, test).astype(np.float64)
    want = _numpy_focal(logits, np.asarray(test.arrays["y"]))
    assert result.eval["loss"] == pytest.approx(want, rel=1e-4)
    assert result.history[-1]["eval_loss"] == pytest.approx(want, rel=1e-4)


def test_optimizer_argument_replaces_the_config_one():
    xt, yt, _, _ = digits(256)
    train = Dataset.from_arrays(xt, yt)
    cfg = TrainConfig(epochs=1, batch_size=64, learning_rate=0.1, progress=False)
    init = init_variables(MLP(hidden=8), train, 0)
    out = fit(MLP(hidden=8), train, None, cfg, variables=init, optimizer=optax.sgd(0.0))
    assert leaves_equal(out.variables["params"], init["params"])  # lr 0: nothing moves


def test_learning_rate_may_be_an_optax_schedule():
    xt, yt, _, _ = digits(256)
    train = Dataset.from_arrays(xt, yt)
    init = init_variables(MLP(hidden=8), train, 0)
    frozen = TrainConfig(epochs=1, batch_size=64, learning_rate=optax.constant_schedule(0.0))
    out = fit(MLP(hidden=8), train, None, frozen, variables=init)
    assert leaves_equal(out.variables["params"], init["params"])
    sched = optax.exponential_decay(1e-3, 10, 0.5)
    cfg = TrainConfig(epochs=1, batch_size=64, optimizer="sgd", learning_rate=sched)
    a = fit(MLP(hidden=8), train, None, cfg, variables=init).variables
    b = fit(
        MLP(hidden=8), train, None, cfg, variables=init, optimizer=optax.sgd(sched, momentum=0.9)
    ).variables
    assert leaves_equal(a, b)  # the config's sgd with the schedule is optax.sgd(schedule)
    record = cfg.to_dict()["learning_rate"]
    assert record["values"][:2] == [pytest.approx(1e-3), pytest.approx(1e-3 * 0.5**0.1)]
    with pytest.raises(ValueError, match="schedule must be 'constant' when learning_rate"):
        TrainConfig(learning_rate=sched, schedule="cosine")


def test_metrics_are_pluggable():
    train, test = digit_sets(512)

    def wrong(logits, labels, weight):
        return (logits.argmax(-1) != labels).astype("float32")

    cfg = TrainConfig(epochs=1, batch_size=64, progress=False)
    r = fit(MLP(hidden=16), train, test, cfg, metrics={"error": wrong})
    assert r.history[0]["eval_error"] == pytest.approx(1 - r.history[0]["eval_accuracy"])
    assert r.history[0]["train_error"] == pytest.approx(1 - r.history[0]["train_accuracy"])
    assert r.eval["error"] == pytest.approx(1 - r.eval["accuracy"])
    with pytest.raises(ValueError, match="metrics must map new names to callables, got 'loss'"):
        fit(MLP(hidden=16), train, test, cfg, metrics={"loss": wrong})


def test_second_evaluate_and_predict_compile_nothing():
    xt, yt, xe, ye = digits(256)
    test = Dataset.from_arrays(xe, ye)
    model = SmallCNN()
    variables = init_variables(model, test, 0)
    with count_compiles() as first:
        evaluate(model, variables, test, batch_size=100)
        predict(model, variables, test, batch_size=100)
    # a new Dataset of the same shapes and a new (equal) module: still no compilation
    again = Dataset.from_arrays(xe.copy(), ye.copy())
    with count_compiles() as second:
        evaluate(SmallCNN(), variables, again, batch_size=100)
        predict(SmallCNN(), variables, again, batch_size=100)
        evaluate(model, variables, test, batch_size=100)
    assert sum(first.values()) > 0  # the counter sees compilations
    assert sum(second.values()) == 0, dict(second)
