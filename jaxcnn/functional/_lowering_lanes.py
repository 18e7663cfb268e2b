"""The "lanes" lowering for convolutions with few channels: the spatial axis on the vector lanes.

With 1 to 4 channels (the notes' 10-layer 3x3x3 CNN on 21x40 frames) a channels-last
convolution or matmul wastes the CPU's 16-wide vector lanes on a channel axis of length 3.
Moving the channels in front, ``(C, N, *spatial)``, puts the long last spatial axis on the
lanes, and the whole convolution becomes ``prod(window) * C_in * C_out`` scalar-times-slice
multiply-adds that XLA fuses into one elementwise loop, as are both of its gradients.

The number of terms grows as ``prod(window) * C_in * C_out``, so this lowering refuses large
channel counts (:data:`MAX_TERMS`) rather than compiling a huge loop body.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
from jax import lax

#: The largest ``prod(window) * (C_in // groups) * C_out`` this lowering accepts.
MAX_TERMS = 512


def lanes_supported(kernel_shape: tuple[int, ...], groups: int) -> str | None:
    """Why the lanes lowering cannot take a kernel, or ``None`` when it can.

    Args:
      kernel_shape: ``(*window, C_in // groups, C_out)``.
      groups: the convolution's groups.

    Returns:
      ``None``, or a phrase for a ``"... must be ..., got ..."`` error message.
    """
    if groups != 1:
        return f"groups must be 1 for lowering='lanes', got {groups}"
    terms = math.prod(kernel_shape)
    if terms > MAX_TERMS:
        return (
            f"kernel must have prod(window) * C_in * C_out <= {MAX_TERMS} for lowering='lanes' "
            f"(few channels), got kernel shape {tuple(kernel_shape)} ({terms} terms)"
        )
    return None


def conv_lanes(
    x: jax.Array,
    kernel: jax.Array,
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: tuple[tuple[int, int], ...],
    groups: int = 1,
) -> jax.Array:
    """Cross-correlation as fused multiply-adds over a channels-first copy of the input.

    Args:
      x: ``(N, *spatial, C_in)`` (NWC or NHWC), one dtype with ``kernel``.
      kernel: ``(*window, C_in, C_out)`` (WIO or HWIO; groups 1), already flipped if needed,
        small enough for :func:`lanes_supported`.
      strides, dilations: positive ints, one per spatial axis.
      pads: ``(low, high)`` non-negative zero padding per spatial axis.
      groups: must be 1 (the signature is that of every lowering).

    Returns:
      ``(N, *out, C_out)``: the same numbers as ``lax.conv_general_dilated``.

    Raises:
      ValueError: ``groups != 1`` (callers check :func:`lanes_supported` first).
    """
    if groups != 1:
        raise ValueError(f"conv_lanes: groups must be 1, got {groups}")
    n = x.ndim - 2
    window, c_in, c_out = kernel.shape[:n], kernel.shape[-2], kernel.shape[-1]
    xt = jnp.moveaxis(x, -1, 0)  # (C_in, N, *spatial): the last spatial axis is contiguous
    if any(lo or hi for lo, hi in pads):
        xt = lax.pad(
            xt, jnp.zeros((), x.dtype), [(0, 0, 0), (0, 0, 0), *[(lo, hi, 0) for lo, hi in pads]]
        )
    sizes = xt.shape[2:]
    out = [(sizes[i] - (window[i] - 1) * dilations[i] - 1) // strides[i] + 1 for i in range(n)]
    shifted = []  # (offset, c) -> (N, *out); slices are lazy, XLA fuses them into the sums
    for offset in itertools.product(*(range(k) for k in window)):
        start = [o * d for o, d in zip(offset, dilations, strict=True)]
        limit = [s + (m - 1) * st + 1 for s, m, st in zip(start, out, strides, strict=True)]
        for c in range(c_in):
            shifted.append(
                (
                    (*offset, c),
                    lax.slice(xt, (c, 0, *start), (c + 1, xt.shape[1], *limit), (1, 1, *strides))[
                        0
                    ],
                )
            )
    ys = []
    for o in range(c_out):
        acc = None
        for index, s in shifted:
            term = kernel[(*index, o)] * s
            acc = term if acc is None else acc + term
        ys.append(acc)
    return jnp.stack(ys, axis=-1)
