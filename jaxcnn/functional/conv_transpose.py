"""Transposed convolution: the exact adjoint (input gradient) of ``conv1d`` / ``conv2d``.

``conv_transpose2d(y, kernel, stride=s, padding=p, dilation=d, groups=g)`` with the kernel of
a conv ``C_b -> C_a`` maps ``(N, H_a, W_a, C_a) -> (N, H_b, W_b, C_b)`` and satisfies
``<conv2d(x, kernel, stride=s, padding=p, dilation=d, groups=g), y> == <x, conv_transpose2d(y,
kernel, ...)>``. Shapes follow PyTorch: ``out = (in - 1) * s - 2 * p + d * (k - 1) +
output_padding + 1``. It is one ``lax.conv_general_dilated`` with the input dilated by the
stride (``lhs_dilation``), the kernel mirrored and its in/out channels swapped per group,
followed by a slice when ``padding`` exceeds ``dilation * (k - 1)``.

``lowering=`` picks how that correlation runs, as for ``conv1d`` / ``conv2d``. At stride 1 it is
the convolutions' choice. At a larger stride, ``"lax"`` is the one ``lax.conv_general_dilated``
above (cuDNN's transposed convolution on GPU); every other lowering runs one stride-1
correlation per output phase on the undilated input (:mod:`._subpixel`), so it never multiplies
the stride's zeros. ``"auto"`` runs the phases on the CPU, each phase by the convolutions' rule
(3-11x faster than XLA's ``lhs_dilation`` convolution there, forward and both gradients:
``docs/performance.md``), and keeps ``"lax"`` on GPU and TPU.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxcnn import _checks, config
from jaxcnn.functional._dtypes import common_dtype
from jaxcnn.functional._lowering import resolve_lowering
from jaxcnn.functional._lowering_lax import _DIMS
from jaxcnn.functional._subpixel import conv_transpose_phases
from jaxcnn.functional._xla_guards import pad_then_crop
from jaxcnn.functional.activation import bias_and_activation, resolve_activation
from jaxcnn.functional.conv import _X_LAYOUT, LOWERING_FUNCTIONS, check_bias

_K_LAYOUT = {1: "(K, C_b // groups, C_a)", 2: "(KH, KW, C_b // groups, C_a)"}


def conv_transpose1d(
    x,
    kernel,
    bias=None,
    *,
    stride=1,
    padding=0,
    output_padding=0,
    dilation=1,
    groups=1,
    lowering=None,
    activation=None,
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
      lowering: ``None`` (the :mod:`jaxcnn.config` default), ``"auto"``, ``"lax"``,
        ``"patches"`` or ``"lanes"`` (see the module docstring; ``"rows"`` is 2-D only).
      activation: ``None``, a callable, or a name in
        :data:`jaxcnn.functional.activation.ELEMENTWISE`: the result is
        ``activation(conv_transpose + bias)``, as for :func:`jaxcnn.functional.conv2d`.

    Returns:
      Shape ``(N, W_out, C_b)``,
      ``W_out = (W - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1``.

    Raises:
      TypeError: a non-array, non-floating dtype, or a float where an int is needed.
      ValueError: an unknown lowering or a forced one that cannot take these arguments,
        wrong ranks, channel mismatch, groups not dividing ``C_a``, non-positive
        stride / dilation, negative padding, ``output_padding >= max(stride, dilation)``,
        a non-positive output size, a bias of the wrong shape, or an unknown activation
        name (TypeError: neither name nor callable).
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
        lowering,
        activation,
    )


def conv_transpose2d(
    x,
    kernel,
    bias=None,
    *,
    stride=1,
    padding=0,
    output_padding=0,
    dilation=1,
    groups=1,
    lowering=None,
    activation=None,
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
      lowering: ``None`` (the :mod:`jaxcnn.config` default), ``"auto"``, ``"lax"``,
        ``"patches"``, ``"rows"`` or ``"lanes"`` (see the module docstring).
      activation: ``None``, a callable, or a name in
        :data:`jaxcnn.functional.activation.ELEMENTWISE`: the result is
        ``activation(conv_transpose + bias)``, as for :func:`jaxcnn.functional.conv2d`.

    Returns:
      Shape ``(N, H_out, W_out, C_b)``, each
      ``(size - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.

    Raises:
      TypeError: a non-array, non-floating dtype, or a float where an int is needed.
      ValueError: an unknown lowering or a forced one that cannot take these arguments,
        wrong ranks, channel mismatch, groups not dividing ``C_a``, non-positive
        stride / dilation, negative padding, ``output_padding >= max(stride, dilation)``,
        a non-positive output size, a bias of the wrong shape, or an unknown activation
        name (TypeError: neither name nor callable).
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
        lowering,
        activation,
    )


def _conv_transpose(
    x, kernel, bias, n, fn, stride, padding, output_padding, dilation, groups, lowering, activation
):
    lowering = config.lowering_or_default(lowering, fn)
    activation, _ = resolve_activation(activation, fn)
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
    # Negative (cropping) padding and one axis shape crash XLA's CPU compiler: the convolution
    # only pads, and a slice crops (see _xla_guards).
    conv_pads, crops = pad_then_crop(window, strides, pads, out_pads, dilations)
    dilated = [
        size + (size - 1) * (s - 1) + lo + hi
        for size, s, (lo, hi) in zip(xs[1:-1], strides, conv_pads, strict=True)
    ]
    # Checks a forced lowering against the whole kernel (every phase uses a slice of it) and
    # resolves "auto" for the single correlation; phases resolve "auto" each for their own shape.
    name = resolve_lowering(
        lowering, (xs[0], *dilated, c_a), k.shape, (1,) * n, dilations, groups, fn
    )
    if any(s > 1 for s in strides) and _by_phases(lowering):
        low_pads = tuple(d * (kk - 1) - p for kk, d, p in zip(window, dilations, pads, strict=True))
        correlate = functools.partial(_correlate_phase, lowering=lowering, fn=fn)
        y = conv_transpose_phases(x, k, strides, dilations, low_pads, out_sizes, groups, correlate)
        return bias_and_activation(y, bias, activation)
    if name == "lax":
        y = lax.conv_general_dilated(
            x,
            k,
            window_strides=(1,) * n,
            padding=conv_pads,
            lhs_dilation=strides,
            rhs_dilation=dilations,
            dimension_numbers=_DIMS[n],
            feature_group_count=groups,
        )
    else:
        interior = [(lo, hi, s - 1) for (lo, hi), s in zip(conv_pads, strides, strict=True)]
        x = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), *interior, (0, 0, 0)])
        y = LOWERING_FUNCTIONS[name](x, k, (1,) * n, dilations, ((0, 0),) * n, groups)
    if any(lo or hi for lo, hi in crops):
        start = (0, *(lo for lo, _ in crops), 0)
        stop = tuple(size - hi for size, (_, hi) in zip(y.shape[1:-1], crops, strict=True))
        y = lax.slice(y, start, (y.shape[0], *stop, y.shape[-1]))
    return bias_and_activation(y, bias, activation)


def _by_phases(lowering: str) -> bool:
    """Whether a strided transposed convolution runs phase by phase (``_subpixel``).

    A forced ``"lax"`` is one ``lax.conv_general_dilated`` with ``lhs_dilation`` (cuDNN's own
    transposed convolution on GPU); every other forced lowering runs the phases. ``"auto"`` runs
    them on the CPU, where they were 7.6-10.9x faster than XLA's ``lhs_dilation`` convolution on
    decoder-sized layers, forward and both gradients (``docs/performance.md``), and keeps
    ``"lax"`` elsewhere.
    """
    if lowering == "auto":
        return jax.default_backend() == "cpu"
    return lowering != "lax"


def _correlate_phase(x, kernel, dilations, pads, groups, *, lowering, fn):
    """One phase's stride-1 correlation through ``lowering`` (``"auto"``: the rule, per phase)."""
    n = x.ndim - 2
    if lowering == "auto":
        padded = tuple(size + lo + hi for size, (lo, hi) in zip(x.shape[1:-1], pads, strict=True))
        x_shape = (x.shape[0], *padded, x.shape[-1])
        lowering = resolve_lowering("auto", x_shape, kernel.shape, (1,) * n, dilations, groups, fn)
    return LOWERING_FUNCTIONS[lowering](x, kernel, (1,) * n, dilations, pads, groups)
