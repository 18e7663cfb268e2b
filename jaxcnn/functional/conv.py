"""Convolution over channels-last batches: ``conv1d`` (NWC, WIO) and ``conv2d`` (NHWC, HWIO).

Each call checks its arguments on static shapes (so errors name the argument before XLA sees
anything) and then hands the canonical arguments to one *lowering*, chosen per backend and
shape or forced by the caller (``lowering=``, :mod:`jaxcnn.config`): ``jax.lax``'s convolution,
a patch matrix and one matmul, row patches and a 1-D convolution, or fused multiply-adds for
few channels. Every lowering gives the same numbers and the same derivatives
(:mod:`jaxcnn.functional._lowering` has the rule and the measurements behind it).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from jaxcnn import _checks, config
from jaxcnn.functional._dtypes import common_dtype
from jaxcnn.functional._lowering import resolve_lowering
from jaxcnn.functional._lowering_lanes import conv_lanes, conv_lanes_channels_first
from jaxcnn.functional._lowering_lax import conv_lax
from jaxcnn.functional._lowering_patches import conv_patches
from jaxcnn.functional._lowering_rows import conv_rows
from jaxcnn.functional._padding import conv_padding
from jaxcnn.functional.activation import bias_and_activation, resolve_activation

_X_LAYOUT = {1: "(N, W, C)", 2: "(N, H, W, C)"}
_K_LAYOUT = {1: "(K, C_in // groups, C_out)", 2: "(KH, KW, C_in // groups, C_out)"}


def conv1d(
    x,
    kernel,
    bias=None,
    *,
    stride=1,
    padding="VALID",
    dilation=1,
    groups=1,
    flip=False,
    lowering=None,
    activation=None,
) -> jax.Array:
    """1D convolution (cross-correlation unless ``flip``) of a channels-last batch.

    ``y[n, t, o] = bias[o] + sum_{j, c} x_pad[n, t * stride + j * dilation, g * C_in/groups + c]
    * kernel[j', c, o]`` with ``g = o // (C_out / groups)``, ``j' = j`` (cross-correlation)
    or ``K - 1 - j`` (``flip=True``, the true convolution of the notes).

    Args:
      x: input, shape ``(N, W, C_in)`` (NWC), floating.
      kernel: shape ``(K, C_in // groups, C_out)`` (WIO), floating.
      bias: optional, shape ``(C_out,)``.
      stride: positive int or 1-sequence.
      padding: ``"VALID"``, ``"SAME"``, ``"FULL"``, ``"CAUSAL"``, an int, or a 1-sequence of an
        int or ``(low, high)`` pair (see ``_padding.conv_padding``).
      dilation: positive int or 1-sequence (kernel dilation, "atrous").
      groups: positive int dividing ``C_in`` and ``C_out`` (``groups == C_in``: depthwise).
      flip: ``True`` mirror-reverses the kernel (true convolution); ``False`` cross-correlates.
      lowering: ``None`` (the :mod:`jaxcnn.config` default), ``"auto"`` (chosen per backend and
        shape), ``"lax"``, ``"patches"`` or ``"lanes"`` (see :mod:`jaxcnn.functional._lowering`;
        ``"rows"`` is 2-D only and raises here).
      activation: ``None``, a callable, or a name in
        :data:`jaxcnn.functional.activation.ELEMENTWISE` (``"relu"``, ``"gelu"``, ...): the
        result is ``activation(conv + bias)``; the lanes lowering applies an elementwise one
        in its own layout, which keeps stacked small-channel layers channels-first (faster).

    Returns:
      Shape ``(N, W_out, C_out)`` with
      ``W_out = (W + low + high - dilation * (K - 1) - 1) // stride + 1``.

    Raises:
      TypeError: a non-array, non-floating dtype, or a float where an int is needed.
      ValueError: wrong ranks, channel mismatch, groups not dividing the channels, a window
        larger than the padded input, non-positive stride or dilation, unknown padding or
        lowering, a forced lowering that does not support the arguments, a bias of the
        wrong shape, or an unknown activation name (TypeError: neither name nor callable).
    """
    return _conv(
        x, kernel, bias, 1, "conv1d", stride, padding, dilation, groups, flip, lowering, activation
    )


def conv2d(
    x,
    kernel,
    bias=None,
    *,
    stride=1,
    padding="VALID",
    dilation=1,
    groups=1,
    flip=False,
    lowering=None,
    activation=None,
) -> jax.Array:
    """2D convolution (cross-correlation unless ``flip``) of a channels-last batch.

    Args:
      x: input, shape ``(N, H, W, C_in)`` (NHWC), floating.
      kernel: shape ``(KH, KW, C_in // groups, C_out)`` (HWIO), floating.
      bias: optional, shape ``(C_out,)``.
      stride: positive int or pair ``(sh, sw)``.
      padding: ``"VALID"``, ``"SAME"`` (as ``jax.lax`` / TensorFlow, also for stride > 1),
        ``"FULL"``, an int, or a 2-sequence of ints or ``(low, high)`` pairs.
      dilation: positive int or pair.
      groups: positive int dividing ``C_in`` and ``C_out`` (``groups == C_in``: depthwise).
      flip: ``True`` reverses the kernel on both spatial axes (true convolution, as
        ``scipy.signal.convolve2d``); ``False`` cross-correlates (as PyTorch / ``jax.lax``).
      lowering: ``None`` (the :mod:`jaxcnn.config` default), ``"auto"`` (chosen per backend and
        shape), ``"lax"``, ``"patches"``, ``"rows"`` or ``"lanes"`` (see
        :mod:`jaxcnn.functional._lowering`).
      activation: ``None``, a callable, or a name in
        :data:`jaxcnn.functional.activation.ELEMENTWISE` (``"relu"``, ``"gelu"``, ...): the
        result is ``activation(conv + bias)``; the lanes lowering applies an elementwise one
        in its own layout, which keeps stacked small-channel layers channels-first (faster).

    Returns:
      Shape ``(N, H_out, W_out, C_out)``, each spatial size
      ``(size + low + high - dilation * (k - 1) - 1) // stride + 1``.

    Raises:
      TypeError: a non-array, non-floating dtype, or a float where an int is needed.
      ValueError: wrong ranks, channel mismatch, groups not dividing the channels, a window
        larger than the padded input, non-positive stride or dilation, unknown padding or
        lowering, a forced lowering that does not support the arguments, a bias of the
        wrong shape, or an unknown activation name (TypeError: neither name nor callable).
    """
    return _conv(
        x, kernel, bias, 2, "conv2d", stride, padding, dilation, groups, flip, lowering, activation
    )


def _conv(x, kernel, bias, n, fn, stride, padding, dilation, groups, flip, lowering, activation):
    """Check every argument, then hand the canonical arguments to one lowering."""
    lowering = config.lowering_or_default(lowering, fn)
    strides, dilations, pads, groups = check_conv_args(
        x, kernel, bias, n, fn, stride, padding, dilation, groups
    )
    if not isinstance(flip, bool):
        raise TypeError(f"{fn}: flip must be a bool, got {type(flip).__name__} {flip!r}")
    activation, elementwise = resolve_activation(activation, fn)
    x, kernel = common_dtype(x, kernel)
    if flip:
        kernel = lax.rev(kernel, tuple(range(n)))
    name = resolve_lowering(lowering, x.shape, kernel.shape, strides, dilations, groups, fn)
    if name == "lanes":
        # The lanes lowering computes channels-first: the bias and an elementwise activation go
        # there, so that the move back to channels-last is the last op and cancels against the
        # next lanes layer's move to the front (see jaxcnn.functional.activation).
        y = conv_lanes_channels_first(jnp.moveaxis(x, -1, 0), kernel, strides, dilations, pads)
        inside = activation if elementwise else None
        y = jnp.moveaxis(bias_and_activation(y, bias, inside, channel_axis=0), 0, -1)
        return y if elementwise else activation(y)
    y = LOWERING_FUNCTIONS[name](x, kernel, strides, dilations, pads, groups)
    return bias_and_activation(y, bias, activation)


# Every lowering takes already-checked, canonical arguments (the signature of ``conv_lax``);
# adding one means one entry here and its name in ``config.SUPPORTED_LOWERINGS``.
# ("auto" is resolved per backend and shape by ``_lowering.resolve_lowering``.)
LOWERING_FUNCTIONS = {
    "lax": conv_lax,
    "patches": conv_patches,
    "rows": conv_rows,
    "lanes": conv_lanes,
}


def check_conv_args(x, kernel, bias, n, fn, stride, padding, dilation, groups):
    """Validate a convolution's arguments on static shapes.

    Args:
      x: ``(N, *spatial, C_in)``; kernel: ``(*window, C_in // groups, C_out)``;
      bias: ``None`` or ``(C_out,)``; n: number of spatial axes; fn: name for messages;
      stride, padding, dilation, groups: as :func:`conv2d`.

    Returns:
      ``(strides, dilations, pads, groups)``: n-tuples of ints, n ``(low, high)`` pairs, an int.

    Raises:
      TypeError, ValueError: as :func:`conv2d`.
    """
    xs = _checks.rank(x, n + 2, fn, "x", _X_LAYOUT[n])
    ks = _checks.rank(kernel, n + 2, fn, "kernel", _K_LAYOUT[n])
    _checks.floating(x, fn, "x")
    _checks.floating(kernel, fn, "kernel")
    strides = _checks.positive(_checks.ntuple(stride, n, fn, "stride"), fn, "stride")
    dilations = _checks.positive(_checks.ntuple(dilation, n, fn, "dilation"), fn, "dilation")
    (groups,) = _checks.positive(_checks.ntuple(groups, 1, fn, "groups"), fn, "groups")
    c_in, c_out = xs[-1], ks[-1]
    if c_in == 0:  # the lanes lowering divided by it
        raise ValueError(f"{fn}: x must have at least one input channel, got shape {xs}")
    if 0 in ks[:-2]:
        raise ValueError(
            f"{fn}: kernel must have a window of size >= 1 on every spatial axis, got kernel "
            f"shape {ks}"
        )
    if c_in % groups:
        raise ValueError(f"{fn}: groups must divide the input channels {c_in}, got {groups}")
    if c_out % groups:
        raise ValueError(
            f"{fn}: groups must divide the output channels (kernel.shape[-1] = {c_out}), "
            f"got {groups}"
        )
    if ks[-2] * groups != c_in:
        raise ValueError(
            f"{fn}: kernel must have C_in // groups = {c_in // groups} input channels "
            f"(x has {c_in} channels, groups={groups}), got kernel shape {ks}"
        )
    spatial, window = xs[1:-1], ks[:-2]
    pads = conv_padding(padding, spatial, window, strides, dilations, fn)
    for axis, (size, k, d, (lo, hi)) in enumerate(
        zip(spatial, window, dilations, pads, strict=True)
    ):
        if size + lo + hi < (k - 1) * d + 1:
            raise ValueError(
                f"{fn}: kernel window must fit in the padded input on spatial axis {axis}, got "
                f"window {(k - 1) * d + 1} (kernel {k}, dilation {d}) > padded size "
                f"{size + lo + hi} (size {size}, padding {(lo, hi)})"
            )
    check_bias(bias, c_out, fn)
    return strides, dilations, pads, groups


def check_bias(bias, c_out: int, fn: str) -> None:
    """Raise unless ``bias`` is ``None`` or an array of shape ``(c_out,)``."""
    if bias is None:
        return
    shape = getattr(bias, "shape", None)
    if shape is None:
        raise TypeError(
            f"{fn}: bias must be an array of shape ({c_out},), got {type(bias).__name__}"
        )
    if tuple(shape) != (c_out,):
        raise ValueError(f"{fn}: bias must have shape ({c_out},), got shape {tuple(shape)}")
    dtype = getattr(bias, "dtype", None)
    if dtype is None or not jnp.issubdtype(dtype, jnp.number):
        # a str array has a shape too; NumPy's float conversion then failed unnamed
        raise TypeError(f"{fn}: bias must be a numeric array, got dtype {dtype}")
