"""The backend boundary: ``lax.conv_general_dilated`` on GPU / TPU, the CPU engine on the CPU.

The choice is ``jax.lax.platform_dependent``'s: both branches are traced, and the one for the
platform the function is lowered for is kept (a multi-platform ``jax.export`` keeps both and
picks at compile time). So a function traced once, or exported, runs the CPU lowerings on a CPU
and the plain convolution (cuDNN, TPU) elsewhere. Called eagerly (concrete arrays, no trace),
the computation runs where its input lives, so that branch is called directly: a staged
``platform_dependent`` would compile a fresh ``cond`` on every eager call.
Arguments arrive checked and canonical (``conv.check_conv_args``).
"""

from __future__ import annotations

import jax
from jax import lax

from jaxcnn._cpu import engine
from jaxcnn._cpu.lax_conv import DIMS


def conv_general(
    x: jax.Array,
    kernel: jax.Array,
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: tuple[tuple[int, int], ...],
    groups: int,
    fn: str,
) -> jax.Array:
    """Cross-correlation of ``(N, *spatial, C_in)`` with ``(*window, C_in // groups, C_out)``.

    Returns:
      ``(N, *out, C_out)``.

    Raises:
      ValueError: a forced CPU lowering that cannot take the arguments (at trace time).
    """

    def cpu(x, kernel):
        return engine.conv(x, kernel, strides, dilations, pads, groups, fn)

    def other(x, kernel):
        return lax.conv_general_dilated(
            x,
            kernel,
            window_strides=strides,
            padding=pads,
            rhs_dilation=dilations,
            dimension_numbers=DIMS[x.ndim - 2],
            feature_group_count=groups,
        )

    return _by_platform(x, kernel, cpu, other)


def _by_platform(x, kernel, cpu, other) -> jax.Array:
    """``platform_dependent(x, kernel, cpu=cpu, default=other)``; eagerly, the branch of the
    platform ``x`` lives on (NumPy input: the default backend's, where JAX will put it)."""
    if isinstance(x, jax.core.Tracer) or isinstance(kernel, jax.core.Tracer):
        return lax.platform_dependent(x, kernel, cpu=cpu, default=other)
    devices = x.devices() if isinstance(x, jax.Array) else None
    platform = next(iter(devices)).platform if devices else jax.default_backend()
    return (cpu if platform == "cpu" else other)(x, kernel)


def conv_transpose_general(
    x: jax.Array,
    kernel: jax.Array,
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: tuple[int, ...],
    out_pads: tuple[int, ...],
    out_sizes: tuple[int, ...],
    groups: int,
    fn: str,
) -> jax.Array:
    """The correlation of the stride-dilated ``x`` behind a transposed convolution.

    Args:
      x: ``(N, *spatial, C_a)``; kernel: ``(*window, C_a // groups, C_b)`` mirrored, in/out
        channels swapped per group; pads: the conv's symmetric padding; out_pads: output
        padding; out_sizes: the output's spatial sizes (all per axis).

    Returns:
      ``(N, *out_sizes, C_b)``.
    """

    def cpu(x, kernel):
        return engine.conv_transpose(
            x, kernel, strides, dilations, pads, out_pads, out_sizes, groups, fn
        )

    def other(x, kernel):
        window = kernel.shape[: len(strides)]
        padding = [
            (d * (k - 1) - p, d * (k - 1) - p + op)
            for k, d, p, op in zip(window, dilations, pads, out_pads, strict=True)
        ]
        return lax.conv_general_dilated(
            x,
            kernel,
            window_strides=(1,) * len(strides),
            padding=padding,
            lhs_dilation=strides,
            rhs_dilation=dilations,
            dimension_numbers=DIMS[x.ndim - 2],
            feature_group_count=groups,
        )

    return _by_platform(x, kernel, cpu, other)
