"""Mixed precision: float32 parameters and optimiser state, bfloat16 activations and matmuls."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend.core import ClosedJaxpr, Jaxpr

from jaxcnn.layers import Conv2D, Dense
from jaxcnn.train import TrainConfig, evaluate, fit
from jaxcnn.train.adapters import as_model
from jaxcnn.train.data import take_rows
from jaxcnn.train.metrics import smoothed_cross_entropy
from jaxcnn.train.optim import make_optimizer
from jaxcnn.train.parallel import data_mesh
from jaxcnn.train.state import initial_state
from jaxcnn.train.step import make_train_chunk
from jaxcnn.vision.models import make_model
from tests.train.helpers import digit_sets, digits

MATMULS = ("dot_general", "conv_general_dilated")


def _eqns(jaxpr):
    """Every equation of ``jaxpr`` and of the jaxprs nested in it (jit, custom_jvp, cond...)."""
    for eqn in jaxpr.eqns:
        yield eqn
        for p in eqn.params.values():
            for sub in p if isinstance(p, list | tuple) else (p,):
                if isinstance(sub, ClosedJaxpr):
                    yield from _eqns(sub.jaxpr)
                elif isinstance(sub, Jaxpr):
                    yield from _eqns(sub)


def _step_jaxpr(compute_dtype):
    xt, yt, _, _ = digits(64)
    model = as_model(make_model("cnn", 10))
    arrays = {"x": jnp.asarray(xt), "y": jnp.asarray(yt)}
    variables = model.init(jax.random.key(0), arrays["x"][:1])
    config = TrainConfig(compute_dtype=compute_dtype)
    tx = make_optimizer(config, 10, variables["params"])
    state = initial_state(variables, tx, 0)
    step = make_train_chunk(
        model, tx, take_rows, data_mesh(), loss=smoothed_cross_entropy(0.0),
        per_step=True, compute_dtype=compute_dtype,
    )  # fmt: skip
    idx = jnp.arange(32, dtype=jnp.int32)
    return jax.make_jaxpr(step, return_shape=True)(state, arrays, idx)


@pytest.mark.parametrize("compute_dtype", ["bfloat16", "float32"])
def test_matmuls_in_compute_dtype_parameters_and_softmax_in_float32(compute_dtype):
    closed, (state, sums) = _step_jaxpr(compute_dtype)
    eqns = list(_eqns(closed.jaxpr))
    matmuls = [e for e in eqns if e.primitive.name in MATMULS]
    assert len(matmuls) >= 6  # forward and backward of 2 convs and 1 dense
    want = jnp.dtype(compute_dtype)
    for e in matmuls:
        assert {v.aval.dtype for v in e.invars} == {want}, e
        assert e.outvars[0].aval.dtype == want, e
    # The softmax (its exp) and the loss stay float32.
    exps = [e for e in eqns if e.primitive.name == "exp"]
    assert exps and all(e.invars[0].aval.dtype == jnp.float32 for e in exps)
    assert sums["loss"].dtype == jnp.float32
    floats = jax.tree.leaves((state.params, state.opt_state))
    floats = [a for a in floats if jnp.issubdtype(a.dtype, jnp.floating)]
    assert floats and all(a.dtype == jnp.float32 for a in floats)


def test_layers_take_a_compute_dtype_with_float32_parameters():
    x = jax.random.normal(jax.random.key(1), (2, 6, 6, 3))
    for layer, ref in ((Conv2D(4, 3, dtype=jnp.bfloat16), Conv2D(4, 3)),
                       (Dense(5, dtype=jnp.bfloat16), Dense(5))):  # fmt: skip
        v = layer.init(jax.random.key(0), x)
        assert all(a.dtype == jnp.float32 for a in jax.tree.leaves(v))
        out = layer.apply(v, x)
        assert out.dtype == jnp.bfloat16
        want = ref.apply(v, x)
        assert want.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(out, np.float32), want, rtol=0.05, atol=0.05)


def test_fit_in_bfloat16_keeps_float32_parameters_and_learns():
    train, test = digit_sets(512)
    model = make_model("cnn", 10)
    cfg = TrainConfig(epochs=2, batch_size=64, learning_rate=3e-3, compute_dtype="bfloat16")
    result = fit(model, train, test, cfg)
    assert all(a.dtype == jnp.float32 for a in jax.tree.leaves(result.variables))
    assert result.eval["accuracy"] > 0.8
    assert evaluate(model, result.variables, test)["accuracy"] == result.eval["accuracy"]


def test_compute_dtype_is_checked():
    with pytest.raises(ValueError, match="compute_dtype"):
        TrainConfig(compute_dtype="float16")
