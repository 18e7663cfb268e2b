"""A second `fit` of the same program compiles nothing and trains bit for bit the same."""

import dataclasses

import optax
import pytest
from flax import nnx
from jaxcnn.text.compiles import count_compiles

from jaxcnn.train import Dataset, TrainConfig, fit, programs
from jaxcnn.train.adapters import as_model
from jaxcnn.train.checkpoint import leaves_equal
from tests.train.helpers import MLP, SmallCNN, digits

CFG = TrainConfig(epochs=2, batch_size=64, learning_rate=3e-3, steps_per_call=3, progress=False)


@pytest.fixture(scope="module")
def data():
    xt, yt, xe, ye = digits(512)
    return Dataset.from_arrays(xt, yt), Dataset.from_arrays(xe[:128], ye[:128])


def test_second_fit_compiles_nothing_and_matches_a_fresh_compile(data):
    train, test = data
    programs.clear()
    with count_compiles() as first:
        fresh = fit(SmallCNN(), train, test, CFG)
    # a new (equal) module, new Datasets of the same shapes: the same program
    again = Dataset.from_arrays(train.arrays["x"].copy(), train.arrays["y"].copy())
    with count_compiles() as second:
        reused = fit(SmallCNN(), again, test, CFG)
    assert first["jit(chunk)"] >= 1  # the training program (the evaluation pass may be kept)
    assert sum(second.values()) == 0, dict(second)
    assert reused.compiles == fresh.compiles == 1  # the program was used, not compiled
    assert leaves_equal(reused.state, fresh.state)  # bit for bit: params, optimiser, step
    assert _rows(reused.history) == _rows(fresh.history)


def _rows(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_what_changes_the_trajectory_compiles_again(data):
    train, test = data
    fit(MLP(hidden=16), train, None, CFG)  # kept
    for other in (
        dataclasses.replace(CFG, learning_rate=1e-2),
        dataclasses.replace(CFG, optimizer="sgd"),
        dataclasses.replace(CFG, label_smoothing=0.1),
    ):
        with count_compiles() as c:
            fit(MLP(hidden=16), train, None, other)
        assert c["jit(chunk)"] == 1, other
    with count_compiles() as c:  # a new seed trains the same program on other values
        fit(MLP(hidden=16), train, None, dataclasses.replace(CFG, seed=3))
    assert c["jit(chunk)"] == 0


def test_key():
    model = as_model(MLP(hidden=16))
    params = {"Dense_0": {"kernel": _a((64, 16)), "bias": _a((16,))}}

    def key(config=CFG, total=16, custom=False, m=model):
        return programs.train_program_key(
            model=m, config=config, total_steps=total, params=params,
            custom_optimizer=custom, parts=("take", None),
        )  # fmt: skip

    assert key() == key(dataclasses.replace(CFG, seed=5, epochs=9, progress=True), total=72)
    assert key() == key(m=as_model(MLP(hidden=16)))  # an equal Linen module
    assert key() != key(m=as_model(MLP(hidden=32)))
    for field, value in (("learning_rate", 1e-2), ("weight_decay", 0.1), ("frozen", ("x*",))):
        assert key() != key(dataclasses.replace(CFG, **{field: value})), field
    cosine = dataclasses.replace(CFG, schedule="cosine")
    assert key(cosine, total=16) != key(cosine, total=32)  # the decay spans the whole run
    # no key: a caller's transform, a schedule function, an NNX module
    assert key(custom=True) is None
    assert key(dataclasses.replace(CFG, learning_rate=optax.constant_schedule(1e-3))) is None
    assert key(m=as_model(_NNX(nnx.Rngs(0)))) is None


def _a(shape):
    import numpy as np

    return np.zeros(shape, np.float32)


class _NNX(nnx.Module):
    def __init__(self, rngs):
        self.out = nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, x):
        return self.out(x.reshape(x.shape[0], -1))
