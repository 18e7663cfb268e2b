"""fit trains every kind of model on real data (scikit-learn digits), each as well as its
built-in (Linen, ``train``-argument) equivalent: plain nn.Sequential, Linen BatchNorm, NNX,
and a Model(init, apply) pair written with jaxcnn.functional alone."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxcnn import functional as F
from jaxcnn.train import Model, TrainConfig, evaluate, fit, predict
from jaxcnn.train.adapters import as_model
from jaxcnn.train.checkpoint import leaves_equal
from jaxcnn.train.state import TrainState
from tests.train.helpers import MLP, SmallCNN, digit_sets

CFG = TrainConfig(epochs=4, batch_size=32, learning_rate=3e-3, num_classes=10, progress=False)
BAND = 0.03  # at most this far below the built-in model's accuracy


@pytest.fixture(scope="module")
def data():
    return digit_sets()


@pytest.fixture(scope="module")
def builtin(data):
    """The built-in equivalents' test accuracies: the project's MLP and SmallCNN."""
    train, test = data
    return {
        "mlp": fit(MLP(hidden=64), train, test, CFG).eval["accuracy"],
        "cnn": fit(SmallCNN(), train, test, CFG).eval["accuracy"],
    }


def _check_band(acc, ref):
    assert ref > 0.9, ref  # the reference itself learned
    assert acc >= ref - BAND, (acc, ref)


def test_plain_sequential_mlp(data, builtin):
    train, test = data
    model = nn.Sequential(
        [lambda x: x.reshape(x.shape[0], -1), nn.Dense(64), nn.relu, nn.Dense(10)]
    )
    result = fit(model, train, test, CFG)
    _check_band(result.eval["accuracy"], builtin["mlp"])
    assert set(result.variables) == {"params"}


class BNCNN(nn.Module):
    """conv-BN-relu-pool, dense: ``train`` only drives BatchNorm's use_running_average."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Conv(16, (3, 3), use_bias=False)(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(x))
        x = nn.max_pool(x, (2, 2), (2, 2))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


def test_linen_cnn_with_batch_norm(data, builtin):
    train, test = data
    model = BNCNN()
    result = fit(model, train, test, CFG)
    _check_band(result.eval["accuracy"], builtin["cnn"])
    stats = result.variables["batch_stats"]["BatchNorm_0"]
    assert not np.allclose(stats["mean"], 0.0)  # the running statistics were trained
    # eval used the running averages: predict's logits give evaluate's accuracy
    logits = predict(model, result.variables, test)
    y = np.asarray(test.arrays["y"])
    assert result.eval["accuracy"] == pytest.approx(np.mean(logits.argmax(-1) == y), abs=1e-6)


class NNXCNN(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.conv = nnx.Conv(1, 16, (3, 3), use_bias=False, rngs=rngs)
        self.bn = nnx.BatchNorm(16, momentum=0.9, rngs=rngs)
        self.drop = nnx.Dropout(0.1, rngs=rngs)
        self.out = nnx.Linear(16 * 4 * 4, 10, rngs=rngs)

    def __call__(self, x):
        x = nnx.relu(self.bn(self.conv(x)))
        x = nnx.max_pool(x, (2, 2), (2, 2))
        return self.out(self.drop(x.reshape(x.shape[0], -1)))


def test_nnx_cnn(data, builtin):
    train, test = data
    module = NNXCNN(nnx.Rngs(0))
    before = nnx.to_pure_dict(nnx.state(module, nnx.Param))
    result = fit(module, train, test, CFG)
    _check_band(result.eval["accuracy"], builtin["cnn"])
    assert set(result.variables) == {"params", "state"}
    assert not np.allclose(result.variables["state"]["bn"]["mean"], 0.0)
    # pure: the caller's module is not changed by training
    after = nnx.to_pure_dict(nnx.state(module, nnx.Param))
    assert leaves_equal(before, after)
    again = evaluate(module, result.variables, test, num_classes=10)
    assert again["accuracy"] == pytest.approx(result.eval["accuracy"], abs=1e-6)


def test_nnx_dropout_depends_on_the_step_key():
    module = NNXCNN(nnx.Rngs(0))
    module.drop.rate = 0.5
    model = as_model(module)
    x = jnp.ones((2, 8, 8, 1))
    v = model.init(jax.random.key(0), x)
    a = model.apply(v, x, True, jax.random.key(1))[0]
    b = model.apply(v, x, True, jax.random.key(1))[0]
    c = model.apply(v, x, True, jax.random.key(2))[0]
    e1, e2 = (
        model.apply(v, x, False, jax.random.key(1))[0],
        model.apply(v, x, False, jax.random.key(2))[0],
    )
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert np.array_equal(e1, e2)  # eval: deterministic


class _Scaled(nnx.Module):
    """A linear layer times a static attribute: part of the graph definition, not a Variable."""

    def __init__(self, rngs: nnx.Rngs):
        self.lin = nnx.Linear(64, 10, rngs=rngs)
        self.scale = 1.0

    def __call__(self, x):
        return self.lin(x.reshape(x.shape[0], -1)) * self.scale


def test_an_nnx_module_changed_after_evaluate_is_evaluated_as_it_is_now(data):
    """The cached evaluation pass must not run the module's old graph (its old ``scale``)."""
    _, test = data
    module = _Scaled(nnx.Rngs(0))
    assert as_model(module) == as_model(module)  # unchanged: one cached program
    variables = {"params": nnx.to_pure_dict(nnx.state(module, nnx.Param))}
    first = predict(module, variables, test)
    module.scale = -2.0
    assert as_model(module) != as_model(_Scaled(nnx.Rngs(0)))
    second = predict(module, variables, test)
    np.testing.assert_allclose(second, -2.0 * first, rtol=1e-5, atol=1e-5)
    assert evaluate(module, variables, test, num_classes=10)["loss"] != pytest.approx(
        evaluate(_Scaled(nnx.Rngs(0)), variables, test, num_classes=10)["loss"]
    )


def _functional_cnn() -> Model:
    """SmallCNN's architecture (conv3x3x16-relu-pool2, dense) in jaxcnn.functional alone."""

    def init(key, x):
        k1, k2 = jax.random.split(key)
        he = jax.nn.initializers.lecun_normal()
        return {
            "params": {
                "conv": {"kernel": he(k1, (3, 3, 1, 16)), "bias": jnp.zeros(16)},
                "dense": {"kernel": he(k2, (16 * 4 * 4, 10)), "bias": jnp.zeros(10)},
            }
        }

    def apply(variables, x, *, train, key):
        p = variables["params"]
        h = F.conv2d(x, p["conv"]["kernel"], p["conv"]["bias"], padding="SAME")
        h = F.max_pool2d(jax.nn.relu(h), 2)
        return F.dense(h.reshape(h.shape[0], -1), p["dense"]["kernel"], p["dense"]["bias"])

    return Model(init, apply)


def test_functional_model(data, builtin):
    train, test = data
    result = fit(_functional_cnn(), train, test, CFG)
    _check_band(result.eval["accuracy"], builtin["cnn"])


def test_functional_model_with_explicit_state():
    """apply may return (logits, new_state): the new state is carried, never mutated."""

    def init(key, x):
        return {"params": {"w": jnp.zeros((64, 10))}, "counter": {"n": jnp.zeros(())}}

    def apply(variables, x, *, train, key):
        logits = x.reshape(x.shape[0], -1) @ variables["params"]["w"]
        n = variables["counter"]["n"] + (1 if train else 0)
        return logits, {"counter": {"n": n}}

    train, _ = digit_sets(256)
    cfg = TrainConfig(epochs=2, batch_size=64, progress=False)
    result = fit(Model(init, apply), train, None, cfg)
    assert float(result.variables["counter"]["n"]) == 2 * (256 // 64)
    # FitResult.state: a registered pytree of step, params, optimiser state, model state, key
    state = result.state
    assert isinstance(state, TrainState) and int(state.step) == 2 * (256 // 64)
    leaves, treedef = jax.tree.flatten(state)
    assert len(leaves) == 1 + 1 + len(jax.tree.leaves(state.opt_state)) + 1 + 1
    rebuilt = jax.tree.unflatten(treedef, leaves)
    assert isinstance(rebuilt, TrainState) and rebuilt.model_state["counter"]["n"] is leaves[-2]
    assert int(jax.jit(lambda s: s.step + 1)(state)) == int(state.step) + 1


def test_bad_model_names_the_argument(data):
    train, test = data
    with pytest.raises(TypeError, match="fit: model must be a flax.linen Module.*got int"):
        fit(3, train, test, CFG)
