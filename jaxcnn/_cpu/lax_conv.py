"""The ``"lax"`` lowering: one ``lax.conv_general_dilated`` (cuDNN on GPU, XLA's own on CPU)."""

from __future__ import annotations

import jax
from jax import lax

from jaxcnn._cpu.xla_guards import concat_zeros, split_padding

# Channels-last activations and kernels, as everywhere in jaxcnn.
DIMS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}


def conv_lax(x, kernel, strides, dilations, pads, groups) -> jax.Array:
    """The ``"lax"`` lowering: one ``lax.conv_general_dilated`` in the caller's layout.

    Args:
      x: ``(N, *spatial, C_in)`` (NWC / NHWC); kernel: ``(*window, C_in // groups, C_out)``
        (WIO / HWIO), one dtype with ``x``, already flipped if needed; strides, dilations:
        positive ints per spatial axis; pads: ``(low, high)`` per spatial axis; groups: an int
        dividing ``C_in`` and ``C_out``. All already checked.

    Returns:
      ``(N, *out, C_out)``.
    """
    # JAX differentiates this into a convolution that XLA's CPU compiler can abort on for one
    # axis shape; such an axis's low padding goes in front as zeros instead (see _xla_guards).
    explicit_low, pads = split_padding(x.shape[1:-1], kernel.shape[:-2], strides, dilations, pads)
    return lax.conv_general_dilated(
        concat_zeros(x, before=explicit_low),
        kernel,
        window_strides=strides,
        padding=pads,
        rhs_dilation=dilations,
        dimension_numbers=DIMS[x.ndim - 2],
        feature_group_count=groups,
    )
