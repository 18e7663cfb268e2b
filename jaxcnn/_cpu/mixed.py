"""One convolution whose forward pass and two gradients each run their own lowering.

A lowering's speed differs per operation: on a 2-core Intel Xeon with AMX (jax 0.10.2), LeNet's
32-to-64 5x5 layer at batch 256 ran its forward and input gradient fastest as ``"lax"`` and its
kernel gradient fastest as ``"rows"`` (docs/performance.md). The tuner therefore times the three
operations separately (:mod:`.autotune`), and :func:`mixed_conv` puts the three winners together.

It is a ``jax.custom_jvp``, not a ``custom_vjp``, so forward-mode and higher-order derivatives
keep working: the tangent of ``y = conv(x, k)`` is ``conv_b(tx, k) + conv_c(x, tk)``, each term
linear in its tangent, and reverse mode transposes ``conv_b`` in ``x`` (the input gradient of
lowering ``b``) and ``conv_c`` in ``k`` (the kernel gradient of lowering ``c``). A tangent that
is symbolically zero (a frozen kernel, an input that is data) costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

Conv = Callable[[jax.Array, jax.Array], jax.Array]


def mixed_conv(forward: Conv, for_input: Conv, for_kernel: Conv) -> Conv:
    """``(x, kernel) -> y`` computed by ``forward``, differentiated through the other two.

    Args:
      forward: the lowering (static arguments bound) whose output is returned.
      for_input: the lowering whose input gradient (transpose in ``x``) the gradient uses.
      for_kernel: the lowering whose kernel gradient (transpose in ``kernel``) it uses.
        All three must compute the same bilinear function of ``(x, kernel)``: every lowering
        gives ``lax.conv_general_dilated``'s numbers (tested per lowering).

    Returns:
      A function of ``(N, *spatial, C_in)`` and ``(*window, C_in // groups, C_out)`` giving
      ``(N, *out, C_out)``, with the derivatives above.
    """

    @jax.custom_jvp
    def conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
        return forward(x, kernel)

    def conv_jvp(primals, tangents):
        (x, kernel), (x_dot, kernel_dot) = primals, tangents
        y = forward(x, kernel)
        terms = []
        if not isinstance(x_dot, SymbolicZero):
            terms.append(for_input(x_dot, kernel))
        if not isinstance(kernel_dot, SymbolicZero):
            terms.append(for_kernel(x, kernel_dot))
        if not terms:
            return y, jnp.zeros_like(y)
        return y, terms[0] if len(terms) == 1 else terms[0] + terms[1]

    conv.defjvp(conv_jvp, symbolic_zeros=True)
    return conv
