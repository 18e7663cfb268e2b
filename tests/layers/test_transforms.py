"""Registry-driven checks on every layer: jit == eager, vmap == loop, one compile per shape."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.layers.sequential import takes_train
from tests.layers.registry import LAYERS, random_variables

# Composite layers compile several sub-layers eagerly (~20 s each on a loaded 2-core machine);
# their numerics are tested by default in test_norm_residual.py / test_layers.py.
SLOW = {"residual2d_proj", "sequential"}
CASES = [
    pytest.param(*e, id=e[0], marks=[pytest.mark.slow] if e[0] in SLOW else []) for e in LAYERS
]


@pytest.mark.parametrize(("name", "make", "shape", "train"), CASES)
def test_jit_eager_vmap_compiles(name, make, shape, train):
    module = make()
    x = jax.random.normal(jax.random.key(1), shape, jnp.float32)
    variables = random_variables(module, x)
    kwargs = {"train": train} if takes_train(module) else {}
    traces = []

    def apply(variables, x):
        traces.append(x.shape)  # Python side effect: runs once per trace (= per compilation)
        out = module.apply(
            variables, x, rngs={"dropout": jax.random.key(3)}, mutable=["batch_stats"], **kwargs
        )
        return out[0]

    eager = apply(variables, x)
    jitted = jax.jit(apply)
    first = jitted(variables, x)
    np.testing.assert_allclose(first, eager, rtol=1e-5, atol=1e-5)
    xs = jnp.stack([x, 2.0 * x - 0.5, -x])  # (3, *shape): an extra leading axis
    looped = jnp.stack([jitted(variables, xs[i]) for i in range(3)])
    # eager call + one trace of the jitted function, reused for three new inputs
    assert traces == [shape, shape]
    mapped = jax.jit(jax.vmap(apply, in_axes=(None, 0)))(variables, xs)
    np.testing.assert_allclose(mapped, looped, rtol=1e-5, atol=1e-5)
