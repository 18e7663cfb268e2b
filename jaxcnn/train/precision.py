"""Mixed precision: float32 parameters and optimiser state, the forward/backward pass in bf16.

The policy wraps a model's ``apply`` (any kind `fit` takes): floating parameters and
floating inputs are cast to the compute dtype on the way in (so every activation, matmul and
convolution runs in it, and gradients flow back through the cast to float32 parameters), and
the logits are cast to float32 on the way out (so softmax and the loss run in float32). New
values of other collections (BatchNorm statistics) go back to their stored dtype.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

COMPUTE_DTYPES = ("float32", "bfloat16")


def cast_floating(tree, dtype):
    """Every floating leaf of ``tree`` as ``dtype``; integer leaves (token ids) untouched."""
    return jax.tree.map(
        lambda a: a.astype(dtype) if jnp.issubdtype(jnp.result_type(a), jnp.floating) else a,
        tree,
    )


def with_compute_dtype(apply: Callable, compute_dtype: str) -> Callable:
    """``apply(variables, x, train, key) -> (logits, model_state)`` run in ``compute_dtype``.

    ``"float32"`` returns ``apply`` itself (bit-identical to no policy). Otherwise logits come
    back float32 and ``model_state`` in the dtypes of the ``variables`` passed in.
    """
    if compute_dtype == "float32":
        return apply
    dtype = jnp.dtype(compute_dtype)

    def mixed(variables, x, train, key):
        logits, state = apply(cast_floating(variables, dtype), cast_floating(x, dtype), train, key)
        stored = {k: v for k, v in variables.items() if k in state}
        state = jax.tree.map(lambda new, old: new.astype(jnp.result_type(old)), state, stored)
        return cast_floating(logits, jnp.float32), state

    return mixed
