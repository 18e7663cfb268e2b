"""Transposed convolution: the exact adjoint (input gradient) of ``conv1d`` / ``conv2d``.

``conv_transpose2d(y, kernel, stride=s, padding=p, dilation=d, groups=g)`` with the kernel of
a conv ``C_b -> C_a`` maps ``(N, H_a, W_a, C_a) -> (N, H_b, W_b, C_b)`` and satisfies
``<conv2d(x, kernel, stride=s, padding=p, dilation=d, groups=g), y> == <x, conv_transpose2d(y,
kernel, ...)>``. Shapes follow PyTorch: ``out = (in - 1) * s - 2 * p + d * (k - 1) +
output_padding + 1``. It is one ``lax.conv_general_dilated`` with the input dilated by the
stride (``lhs_dilation``), the kernel mirrored and its in/out channels swapped per group (its
padding negative where ``padding`` exceeds ``dilation * (k - 1)``).

On the CPU (:mod:`jaxcnn._cpu`) a strided one runs as one stride-1 correlation per output
phase on the undilated input (it never multiplies the stride's zeros; 3-11x faster than XLA's
``lhs_dilation`` convolution there, ``docs/performance.md``), each phase with the lowering
chosen for its shape; on GPU and TPU it is the one ``lax.conv_general_dilated`` above.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from jaxcnn import _checks
from jaxcnn.functional._backend import conv_transpose_general
from jaxcnn.functional._dtypes import common_dtype
from jaxcnn.functional.conv import _X_LAYOUT, IntOrSeq, add_bias, check_bias

_K_LAYOUT = {1: "(K, C_b // groups, C_a)", 2: "(KH, KW, C_b // groups, C_a)"}


def conv_transpose1d(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
) -> jax.Array:
    """1D transposed convolution, the adjoint of :func:`jaxcnn.functional.conv1d`.

    Args:
      x: shape ``(N, W, C_a)`` (NWC), floating.
      kernel: shape ``(K, C_b // groups, C_a)`` (WIO of the conv ``C_b -> C_a``).
      bias: optional, shape ``(C_b,)``.
      stride: positive int or 1-sequence.
      padding: non-negative int or 1-sequence: the conv's symmetric padding, removed from
        both ends of the output.
      output_padding: non-negative int or 1-sequence, ``< max(stride, dilation)``: extra
        positions at the high end (picks among the input sizes a strided conv maps to ``W``).
      dilation: positive int or 1-sequence.
      groups: positive int dividing ``C_a`` (and so ``C_b = kernel.shape[1] * groups``).

    Returns:
      Shape ``(N, W_out, C_b)``,
      ``W_out = (W - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1``.

    Raises:
      TypeError: a non-array, non-floating dtype, or a float where an int is needed.
      ValueError: wrong ranks, channel mismatch, groups not dividing ``C_a``, non-positive
        stride / dilation, negative padding, ``output_padding >= max(stride, dilation)``,
        a non-positive output size, a bias of the wrong shape, or (on the CPU) a lowering
        forced with ``jaxcnn.config.lowering`` that cannot take the arguments.
    """
    return _conv_transpose(
        x,
        kernel,
        bias,
        1,
        "conv_transpose1d",
        stride,
        padding,
        output_padding,
        dilation,
        groups,
    )


def conv_transpose2d(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    output_padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
) -> jax.Array:
    """2D transposed convolution, the adjoint of :func:`jaxcnn.functional.conv2d`.

    Equals ``torch.nn.functional.conv_transpose2d`` on the same data moved to channels-last,
    with the PyTorch weight mapped by ``layout.kernel_from_torch(w, transposed=True)``.

    Args:
      x: shape ``(N, H, W, C_a)`` (NHWC), floating.
      kernel: shape ``(KH, KW, C_b // groups, C_a)`` (HWIO of the conv ``C_b -> C_a``).
      bias: optional, shape ``(C_b,)``.
      stride: positive int or pair.
      padding: non-negative int or pair (the conv's symmetric padding).
      output_padding: non-negative int or pair, each ``< max(stride, dilation)`` on its axis.
      dilation: positive int or pair.
      groups: positive int dividing ``C_a``.

    Returns:
      Shape ``(N, H_out, W_out, C_b)``, each
      ``(size - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.

    Raises:
      TypeError: a non-array, non-floating dtype, or a float where an int is needed.
      ValueError: wrong ranks, channel mismatch, groups not dividing ``C_a``, non-positive
        stride / dilation, negative padding, ``output_padding >= max(stride, dilation)``,
        a non-positive output size, a bias of the wrong shape, or (on the CPU) a lowering
        forced with ``jaxcnn.config.lowering`` that cannot take the arguments.
    """
    return _conv_transpose(
        x,
        kernel,
        bias,
        2,
        "conv_transpose2d",
        stride,
        padding,
        output_padding,
        dilation,
        groups,
    )


def _conv_transpose(
    x, kernel, bias, n, fn, stride, padding, output_padding, dilation, groups
) -> jax.Array:
    """Check every argument, then run the adjoint correlation through the backend boundary."""
    xs = _checks.rank(x, n + 2, fn, "x", _X_LAYOUT[n])
    ks = _checks.rank(kernel, n + 2, fn, "kernel", _K_LAYOUT[n])
    _checks.floating(x, fn, "x")
    _checks.floating(kernel, fn, "kernel")
    strides = _checks.positive(_checks.ntuple(stride, n, fn, "stride"), fn, "stride")
    dilations = _checks.positive(_checks.ntuple(dilation, n, fn, "dilation"), fn, "dilation")
    pads = _checks.non_negative(_checks.ntuple(padding, n, fn, "padding"), fn, "padding")
    out_pads = _checks.non_negative(
        _checks.ntuple(output_padding, n, fn, "output_padding"), fn, "output_padding"
    )
    (groups,) = _checks.positive(_checks.ntuple(groups, 1, fn, "groups"), fn, "groups")
    c_a = xs[-1]
    if ks[-1] != c_a:
        raise ValueError(
            f"{fn}: kernel must have C_a = {c_a} (the channels of x) on its last axis, "
            f"got kernel shape {ks}"
        )
    if c_a % groups:
        raise ValueError(f"{fn}: groups must divide the input channels {c_a}, got {groups}")
    for op, s, d in zip(out_pads, strides, dilations, strict=True):
        if op >= max(s, d):
            raise ValueError(
                f"{fn}: output_padding must be smaller than max(stride, dilation) "
                f"{tuple(max(s, d) for s, d in zip(strides, dilations, strict=True))}, "
                f"got {out_pads}"
            )
    window = ks[:n]
    out_sizes = tuple(
        (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        for size, s, p, d, k, op in zip(
            xs[1:-1], strides, pads, dilations, window, out_pads, strict=True
        )
    )
    if any(o < 1 for o in out_sizes):
        raise ValueError(f"{fn}: output size must be positive, got {out_sizes} (padding {pads})")
    c_b = ks[-2] * groups
    check_bias(bias, c_b, fn)

    x, kernel = common_dtype(x, kernel)
    # The adjoint correlates the stride-dilated input with the mirrored kernel whose in/out
    # channels are swapped inside each group: (*win, C_b/g, g, C_a/g) -> (*win, C_a/g, g*C_b/g).
    cbg, cag = ks[-2], c_a // groups
    k = lax.rev(kernel, tuple(range(n)))
    k = jnp.reshape(k, (*window, cbg, groups, cag))
    k = jnp.swapaxes(k, -3, -1)
    k = jnp.reshape(k, (*window, cag, c_b))
    y = conv_transpose_general(x, k, strides, dilations, pads, out_pads, out_sizes, groups, fn)
    return add_bias(y, bias)
