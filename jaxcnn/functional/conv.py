"""Convolution over channels-last batches: ``conv1d`` (NWC, WIO) and ``conv2d`` (NHWC, HWIO).

Each call checks its arguments on static shapes (so errors name the argument before XLA sees
anything), then hands the canonical arguments to the backend boundary (:mod:`._backend`): one
``lax.conv_general_dilated`` on GPU and TPU, the CPU engine (:mod:`jaxcnn._cpu`) on the CPU,
decided per platform when the function is lowered. On the CPU the engine picks a lowering per
shape by measuring (forcing one: ``jaxcnn.config.lowering``); every lowering gives the same
numbers and derivatives to float tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from jaxcnn import _checks
from jaxcnn.functional._backend import conv_general
from jaxcnn.functional._dtypes import common_dtype
from jaxcnn.functional._padding import conv_padding

Padding = str | int | Sequence[int | tuple[int, int]]
IntOrSeq = int | Sequence[int]

_X_LAYOUT = {1: "(N, W, C)", 2: "(N, H, W, C)"}
_K_LAYOUT = {1: "(K, C_in // groups, C_out)", 2: "(KH, KW, C_in // groups, C_out)"}


def conv1d(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = "VALID",
    dilation: IntOrSeq = 1,
    groups: int = 1,
    flip: bool = False,
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

    Returns:
      Shape ``(N, W_out, C_out)`` with
      ``W_out = (W + low + high - dilation * (K - 1) - 1) // stride + 1``.

    Raises:
      TypeError: a non-array, non-floating dtype, or a float where an int is needed.
      ValueError: wrong ranks, channel mismatch, groups not dividing the channels, a window
        larger than the padded input, non-positive stride or dilation, unknown padding, a bias
        of the wrong shape, or (on the CPU) a lowering forced with ``jaxcnn.config.lowering``
        that cannot take the arguments.
    """
    return _conv(x, kernel, bias, 1, "conv1d", stride, padding, dilation, groups, flip)


def conv2d(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    stride: IntOrSeq = 1,
    padding: Padding = "VALID",
    dilation: IntOrSeq = 1,
    groups: int = 1,
    flip: bool = False,
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

    Returns:
      Shape ``(N, H_out, W_out, C_out)``, each spatial size
      ``(size + low + high - dilation * (k - 1) - 1) // stride + 1``.

    Raises:
      TypeError: a non-array, non-floating dtype, or a float where an int is needed.
      ValueError: wrong ranks, channel mismatch, groups not dividing the channels, a window
        larger than the padded input, non-positive stride or dilation, unknown padding, a bias
        of the wrong shape, or (on the CPU) a lowering forced with ``jaxcnn.config.lowering``
        that cannot take the arguments.
    """
    return _conv(x, kernel, bias, 2, "conv2d", stride, padding, dilation, groups, flip)


def _conv(x, kernel, bias, n, fn, stride, padding, dilation, groups, flip) -> jax.Array:
    """Check every argument, then convolve through the backend boundary and add the bias."""
    strides, dilations, pads, groups = check_conv_args(
        x, kernel, bias, n, fn, stride, padding, dilation, groups
    )
    if not isinstance(flip, bool):
        raise TypeError(f"{fn}: flip must be a bool, got {type(flip).__name__} {flip!r}")
    x, kernel = common_dtype(x, kernel)
    if flip:
        kernel = lax.rev(kernel, tuple(range(n)))
    y = conv_general(x, kernel, strides, dilations, pads, groups, fn)
    return add_bias(y, bias)


def add_bias(y: jax.Array, bias: jax.Array | None) -> jax.Array:
    """``y + bias`` over the last (channel) axis of ``y``; ``y`` itself for no bias.

    Args:
      y: ``(N, *spatial, C)``; bias: ``None`` or ``(C,)`` (checked by the caller).

    Returns:
      An array shaped and typed as ``y``.
    """
    if bias is None:
        return y
    # Broadcast explicitly: the library runs with rank promotion off.
    return y + jnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,)).astype(y.dtype)


def check_conv_args(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None,
    n: int,
    fn: str,
    stride: IntOrSeq,
    padding: Padding,
    dilation: IntOrSeq,
    groups: int,
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[tuple[int, int], ...], int]:
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


def check_bias(bias: object, c_out: int, fn: str) -> None:
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
