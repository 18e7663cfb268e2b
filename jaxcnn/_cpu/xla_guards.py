"""Convolution shapes that XLA's CPU compiler mishandles (jax 0.10.2), and how we avoid them.

Two bugs reach ``lax.conv_general_dilated`` from ordinary arguments:

* **Negative padding reads out of bounds** (openxla/xla#48713): a negative low padding with a
  positive high one gives wrong values or SIGSEGV. A transposed convolution's natural padding is
  negative where ``padding > dilation * (k - 1)``.
* **The operand swapper builds an invalid convolution** and the compiler aborts the process
  (a failed ``CHECK``, not a Python error). When the input is smaller than the window, XLA swaps
  a convolution's operands and takes an unpadded axis with window 2, lhs dilation 2, window
  dilation 1 for a "group" axis, copying its window unchanged. Such an axis appears in
  ``conv_transpose`` with ``kernel = stride = 2, padding = 1``, and in JAX's *input gradient*
  of a ``conv`` with ``kernel = stride = 2`` and ``padding = 1`` on an even-sized axis.

Both are avoided by moving padding out of the convolution: ``pad_then_crop`` for the transposed
convolution (which only ever pads, then slices), ``split_padding`` for the forward one (whose
gradient JAX derives). Each rule names the axis property it tests, so the workaround costs
nothing on the shapes it does not touch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxcnn.functional._padding import conv_out_sizes


def _swapper_group_axis(window, lhs_dilation, window_dilation, low, high) -> bool:
    """Whether XLA's operand swapper would take this convolution axis for a "group" axis (with
    unit window stride, the only stride these convolutions use)."""
    return (low, high) == (0, 0) and window == lhs_dilation == 2 and window_dilation == 1


def pad_then_crop(window, strides, pads, out_pads, dilations):
    """A transposed convolution's per-axis padding, split into what the convolution pads and what
    a slice crops from its output afterwards (both ``>= 0``).

    The adjoint pads ``d * (k - 1) - p`` low and that plus ``output_padding`` high. With unit
    window strides, cropping the convolution's input and its output agree, so negative padding
    becomes a crop; an axis the swapper would misread gets one extra zero row at the high end,
    cropped again. Grouped convolutions too: XLA may expand the groups first (float64 does).

    Returns:
      ``(conv_pads, crops)``: lists of ``(low, high)`` pairs, one per spatial axis.
    """
    conv_pads, crops = [], []
    for k, s, p, op, d in zip(window, strides, pads, out_pads, dilations, strict=True):
        lo, hi = d * (k - 1) - p, d * (k - 1) - p + op
        conv_lo, conv_hi = max(lo, 0), max(hi, 0)
        if _swapper_group_axis(k, s, d, conv_lo, conv_hi):
            conv_hi = 1
        conv_pads.append((conv_lo, conv_hi))
        crops.append((conv_lo - lo, conv_hi - hi))
    return conv_pads, crops


def _input_gradient_pads(size, k, s, d, lo, hi):
    """The ``(low, high)`` padding of the convolution JAX's VJP uses for the input gradient
    (``lax``'s ``_conv_general_vjp_lhs_padding``)."""
    kd = d * (k - 1) + 1
    (out,) = conv_out_sizes((size,), (k,), (s,), (d,), ((lo, hi),))
    before = kd - 1 - lo
    return before, size + kd - 1 - ((out - 1) * s + 1) - before


def split_padding(sizes, window, strides, dilations, pads):
    """Which low padding to apply before a forward convolution rather than inside it.

    An axis whose input gradient the swapper would misread (``k = s = 2``, ``d = 1``, the
    gradient unpadded) gets its low padding as explicit zeros; the convolution then pads only the
    high side there, and its gradient has a padded low side.

    Returns:
      ``(explicit_low, conv_pads)``: the zeros to prepend per spatial axis, and the ``(low,
      high)`` pairs left to the convolution.
    """
    explicit, conv_pads = [], []
    for size, k, s, d, (lo, hi) in zip(sizes, window, strides, dilations, pads, strict=True):
        risky = _swapper_group_axis(k, s, d, *_input_gradient_pads(size, k, s, d, lo, hi))
        explicit.append(lo if risky else 0)
        conv_pads.append((0, hi) if risky else (lo, hi))
    return explicit, conv_pads


def concat_zeros(x: jax.Array, before=(), after=()) -> jax.Array:
    """``x`` (N, *spatial, C) with ``before[i]`` zero rows in front of spatial axis ``i`` and
    ``after[i]`` behind it (missing entries: none).

    A concatenation, not ``lax.pad``: JAX transposes a concatenation into slices, whereas
    ``lax.pad``'s transpose is a negative pad that XLA may fold into a following convolution's
    padding (openxla/xla#48715).
    """
    for at_end, counts in ((False, before), (True, after)):
        for axis, n in enumerate(counts, start=1):
            if n:
                zeros = jnp.zeros((*x.shape[:axis], n, *x.shape[axis + 1 :]), x.dtype)
                x = jnp.concatenate([x, zeros] if at_end else [zeros, x], axis=axis)
    return x
