"""The "lanes" lowering for convolutions with few channels: the spatial axis on the vector lanes.

With 1 to 4 channels (the notes' 10-layer 3x3x3 CNN on 21x40 frames) a channels-last
convolution or matmul wastes the CPU's 16-wide vector lanes on a channel axis of length 3.
Moving the channels in front, ``(C, N, *spatial)``, puts the long last spatial axis on the
lanes, and the whole convolution becomes ``prod(window) * C_in * C_out`` scalar-times-slice
multiply-adds that XLA fuses into one elementwise loop. The primitive takes and returns
channels-first arrays; :func:`conv_lanes` moves the channels in and out.

The convolution is a JAX primitive (``conv_lanes_p``) with its own transpose rules, because
the gradient JAX derives from the slices is slow: the transpose of each shifted slice is a
zero pad, and XLA sums ``prod(window) * C_in * C_out`` padded copies with a bounds check per
element and per term (the notes' 3-to-3 layer: 9 ms against 1.9 ms for the rule below), and
it feeds the kernel gradient's sums from materialised copies of every slice. The rules write
the input gradient as what it is, another small-channel convolution (of the cotangent,
dilated by the stride and padded, with the kernel flipped and its channel axes swapped), so
it runs on the lanes too, and the kernel gradient as one pass that sums every kernel entry's
products at once. Together they made the notes' 10-layer training step 2.9x faster (2,400 ->
6,800 samples/s at batch 256). The primitive is bilinear, so forward mode, reverse
mode and any order of either follow from these two rules (``ad.defbilinear``), as for
``lax.conv_general_dilated``.

The number of terms grows as ``prod(window) * C_in * C_out``, so this lowering refuses large
channel counts (:data:`MAX_TERMS`) rather than compiling a huge loop body.
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
from jax import lax
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from jaxcnn.functional._padding import conv_out_sizes

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
      ``(N, *out, C_out)``: the same numbers as ``lax.conv_general_dilated``, and the same
      derivatives of every order, forward and reverse (see the module docstring).

    Raises:
      ValueError: ``groups != 1`` (callers check :func:`lanes_supported` first).
    """
    if groups != 1:
        raise ValueError(f"conv_lanes: groups must be 1, got {groups}")
    y = conv_lanes_channels_first(jnp.moveaxis(x, -1, 0), kernel, strides, dilations, pads)
    return jnp.moveaxis(y, 0, -1)


def conv_lanes_channels_first(
    xt: jax.Array,
    kernel: jax.Array,
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: tuple[tuple[int, int], ...],
) -> jax.Array:
    """:func:`conv_lanes` on channels-first arrays: ``(C_in, N, *spatial) -> (C_out, N, *out)``.

    The layout the computation runs in.

    Args:
      xt: ``(C_in, N, *spatial)``; kernel, strides, dilations, pads: as :func:`conv_lanes`.

    Returns:
      ``(C_out, N, *out)``.
    """
    return conv_lanes_p.bind(
        xt,
        kernel,
        strides=tuple(strides),
        dilations=tuple(dilations),
        pads=tuple((lo, hi) for lo, hi in pads),
    )


def _correlate(x, kernel, *, strides, dilations, pads):
    """The computation behind ``conv_lanes_p``: as :func:`conv_lanes_channels_first`."""
    n = x.ndim - 2
    window, c_out = kernel.shape[:n], kernel.shape[-1]
    # Sums in at least float32 (bfloat16 terms, like lax.conv's accumulator on the CPU).
    acc_dtype = jnp.promote_types(x.dtype, jnp.float32)
    kernel = kernel.astype(acc_dtype)
    shifted = _shifted(x.astype(acc_dtype), window, strides, dilations, pads)
    ys = []
    for o in range(c_out):
        acc = None
        for index, s in shifted:
            term = kernel[(*index, o)] * s
            acc = term if acc is None else acc + term
        assert acc is not None  # shifted holds one entry per kernel tap: at least one
        ys.append(acc)
    return jnp.stack(ys).astype(x.dtype)


def _shifted(xt, window, strides, dilations, pads) -> list:
    """``[((*offset, c), x_pad[c, :, offset * dilation + stride * out_positions])]``.

    One ``(N, *out)`` slice of the padded channels-first input ``(C_in, N, *spatial)`` (the
    last spatial axis contiguous) per kernel offset and input channel, offsets row-major then
    channels (the order of an HWIO kernel). The slices are lazy: XLA fuses them into the loops
    that consume them.
    """
    out = conv_out_sizes(xt.shape[2:], window, strides, dilations, pads)
    if any(lo or hi for lo, hi in pads):
        xt = lax.pad(
            xt, jnp.zeros((), xt.dtype), [(0, 0, 0), (0, 0, 0), *[(lo, hi, 0) for lo, hi in pads]]
        )
    shifted = []
    for offset in itertools.product(*(range(k) for k in window)):
        start = [o * d for o, d in zip(offset, dilations, strict=True)]
        limit = [s + (m - 1) * st + 1 for s, m, st in zip(start, out, strides, strict=True)]
        for c in range(xt.shape[0]):
            piece = lax.slice(xt, (c, 0, *start), (c + 1, xt.shape[1], *limit), (1, 1, *strides))
            shifted.append(((*offset, c), piece[0]))
    return shifted


def _abstract_eval(x, kernel, *, strides, dilations, pads):
    out = conv_out_sizes(x.shape[2:], kernel.shape[:-2], strides, dilations, pads)
    return jax.core.ShapedArray((kernel.shape[-1], x.shape[1], *out), x.dtype)


def _input_gradient(ct, x, kernel, *, strides, dilations, pads):
    """The transpose in ``x``: a stride-1 lanes convolution of the dilated, padded cotangent.

    ``ct`` is ``(C_out, N, *out)``; ``x`` is the undefined primal (only its shape is used).
    Each axis gets ``stride - 1`` zeros between cotangent entries and ``d * (k - 1)`` minus the
    forward padding at each end (plus the input positions the stride never reached at the
    high end); padding that comes out negative is cropped with a slice instead.
    """
    window = kernel.shape[:-2]
    grow, crop = [(0, 0, 0)] * 2, [slice(None)] * 2  # the channel and batch axes
    for size, m, k, s, d, (lo, hi) in zip(
        x.aval.shape[2:], ct.shape[2:], window, strides, dilations, pads, strict=True
    ):
        unreached = size + lo + hi - d * (k - 1) - 1 - (m - 1) * s
        low, high = d * (k - 1) - lo, d * (k - 1) - hi + unreached
        grow.append((max(low, 0), max(high, 0), s - 1))
        full = (m - 1) * s + 1 + max(low, 0) + max(high, 0) - d * (k - 1)
        crop.append(slice(max(-low, 0), full - max(-high, 0)))
    # Materialised once: fused into the convolution below, the pad would cost a bounds check
    # per element and per term (cnn10 step: 6,822 -> 7,136 samples/s in a same-process A/B).
    ct = lax.optimization_barrier(lax.pad(ct, jnp.zeros((), ct.dtype), grow))
    flipped = jnp.swapaxes(kernel[(slice(None, None, -1),) * len(window)], -1, -2)
    n = len(window)
    dx = conv_lanes_p.bind(
        ct, flipped, strides=(1,) * n, dilations=tuple(dilations), pads=((0, 0),) * n
    )
    return dx[tuple(crop)]


def _kernel_gradient(ct, x, kernel, *, strides, dilations, pads):
    """The transpose in ``kernel``: every ``(offset, c_in, c_out)`` sum in one pass.

    ``dk[*offset, c, o]`` is the sum over ``(n, *out)`` of ``x`` shifted by ``offset`` (channel
    ``c``) times ``ct`` (channel ``o``). One variadic ``lax.reduce`` with an accumulator per
    kernel entry reads ``x`` and ``ct`` once; JAX's own transpose of the computation gives the
    same sums as one reduction each, and XLA materialises every shifted slice to feed them
    (the notes' 3-to-3 layer: 5.3 ms against 3.8 ms; the whole 10-layer training step ran
    twice as fast, 3,472 -> 6,835 samples/s). The last spatial axis is kept through the
    reduce, so that it stays on the vector lanes, and summed afterwards.
    """
    n = x.ndim - 2
    window, c_out = kernel.aval.shape[:n], kernel.aval.shape[-1]
    acc_dtype = jnp.promote_types(ct.dtype, jnp.float32)  # sums of ~N * positions terms
    ctf = ct.astype(acc_dtype)  # (C_out, N, *out)
    shifted = _shifted(x.astype(acc_dtype), window, strides, dilations, pads)
    products = tuple(s * ctf[o] for _, s in shifted for o in range(c_out))
    zeros = (jnp.zeros((), acc_dtype),) * len(products)
    sums = lax.reduce(products, zeros, _add_pairwise, tuple(range(n)))
    return jnp.stack(sums).sum(axis=-1).reshape(kernel.aval.shape).astype(ct.dtype)


def _add_pairwise(a, b):
    return tuple(p + q for p, q in zip(a, b, strict=True))


def _batch(args, dims, *, strides, dilations, pads):
    """vmap: a batch of inputs joins the ``N`` axis; a batch of kernels maps the computation."""
    (x, kernel), (bx, bk) = args, dims
    if bk is None:  # batching.not_mapped
        x = jnp.moveaxis(x, bx, 1)  # (C_in, B, N, *spatial)
        c, b, n = x.shape[:3]
        y = conv_lanes_p.bind(
            x.reshape(c, b * n, *x.shape[3:]), kernel, strides=strides, dilations=dilations,
            pads=pads,
        )  # fmt: skip
        return y.reshape(y.shape[0], b, n, *y.shape[2:]), 1
    f = functools.partial(_correlate, strides=strides, dilations=dilations, pads=pads)
    return jax.vmap(f, in_axes=(bx, bk))(x, kernel), 0


conv_lanes_p = Primitive("jaxcnn_conv_lanes")
conv_lanes_p.def_impl(jax.jit(_correlate, static_argnames=("strides", "dilations", "pads")))
conv_lanes_p.def_abstract_eval(_abstract_eval)
mlir.register_lowering(conv_lanes_p, mlir.lower_fun(_correlate, multiple_results=False))
ad.defbilinear(conv_lanes_p, _input_gradient, _kernel_gradient)
batching.primitive_batchers[conv_lanes_p] = _batch
