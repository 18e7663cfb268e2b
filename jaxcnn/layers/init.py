"""Initialisers: Flax's defaults, and PyTorch's for users who want to match it.

Every jaxcnn layer with weights defaults to Flax's choice: ``lecun_normal`` kernels (a normal
truncated at two standard deviations, variance ``1 / fan_in``) and zero biases, with
``fan_in = prod(kernel window) * C_in / groups``. PyTorch's ``nn.Conv*d`` / ``nn.Linear`` draw
the kernel from ``kaiming_uniform(a=sqrt(5))``, i.e. ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``
(variance ``1 / (3 fan_in)``, three times smaller), and the bias from the same uniform. Pass
:func:`torch_kernel_init` / :func:`torch_bias_init` as a layer's ``kernel_init`` / ``bias_init``
to get PyTorch's distribution.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import linen as nn

default_kernel_init = nn.initializers.lecun_normal()
default_bias_init = nn.initializers.zeros_init()


def torch_kernel_init():
    """PyTorch's default kernel initialiser, ``kaiming_uniform(a=sqrt(5))``.

    Returns:
      A Flax initialiser ``(key, shape, dtype) -> array`` drawing ``U(-b, b)`` with
      ``b = 1 / sqrt(fan_in)``, ``fan_in = prod(shape[:-1])`` (window * C_in / groups for a
      WIO / HWIO kernel, D_in for a ``(D_in, D_out)`` dense kernel).
    """
    # kaiming_uniform with a=sqrt(5): gain^2 = 2 / (1 + a^2) = 1/3, bound = sqrt(3 * 1/3 / fan_in).
    return nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def torch_bias_init(fan_in: int):
    """PyTorch's default bias initialiser ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    Args:
      fan_in: the kernel's fan-in (``prod(window) * C_in // groups``, or ``D_in``); a bias
        initialiser only sees the bias's shape, so it has to be told.

    Returns:
      A Flax initialiser ``(key, shape, dtype) -> array``.

    Raises:
      ValueError: ``fan_in`` not a positive int.
    """
    if not isinstance(fan_in, int) or isinstance(fan_in, bool) or fan_in < 1:
        raise ValueError(f"torch_bias_init: fan_in must be a positive int, got {fan_in!r}")
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init
