"""One dtype for an operation's operands, promoted as ``jnp.result_type`` does.

``lax.conv_general_dilated`` refuses mixed dtypes and ``lax.dot_general`` silently keeps one
operand's (``float16 @ bfloat16`` came out ``bfloat16``), so the convolutions, transposed
convolutions and ``dense`` all promote first, the same way.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def common_dtype(x, kernel) -> tuple[jax.Array, jax.Array]:
    """``x`` and ``kernel`` as arrays of ``jnp.result_type(x, kernel)`` (float16 and bfloat16
    give float32, as in JAX's promotion table)."""
    dtype = jnp.result_type(x, kernel)
    return jnp.asarray(x, dtype), jnp.asarray(kernel, dtype)
