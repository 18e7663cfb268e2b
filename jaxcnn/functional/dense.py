"""Fully connected (affine) map over the last axis: ``(..., D_in) @ (D_in, D_out) + bias``."""

from __future__ import annotations

import jax
from jax import lax

from jaxcnn import _checks
from jaxcnn.functional._dtypes import common_dtype


def dense(x, kernel, bias=None) -> jax.Array:
    """``y[..., o] = sum_i x[..., i] * kernel[i, o] + bias[o]``.

    One ``lax.dot_general`` contracting ``x``'s last axis with ``kernel``'s first, so leading
    axes (batch, time, space) are kept as they are and nothing is transposed or reshaped.
    Mixed dtypes are promoted as :func:`jaxcnn.functional.conv2d` does (``jnp.result_type``:
    float16 with bfloat16 gives float32); equal dtypes are kept.

    Args:
      x: shape ``(..., D_in)``, rank >= 1, floating.
      kernel: shape ``(D_in, D_out)`` (the "IO" layout of Flax's ``Dense``; PyTorch's
        ``Linear.weight`` is its transpose), floating.
      bias: optional, shape ``(D_out,)``.

    Returns:
      Shape ``(..., D_out)``, dtype ``jnp.result_type(x, kernel)`` (and ``bias``, if given).

    Raises:
      TypeError: a non-array or non-floating ``x`` or ``kernel``.
      ValueError: ``x`` of rank 0, ``kernel`` not of rank 2, ``x.shape[-1] != D_in``, or a
        bias that is not ``(D_out,)``.
    """
    fn = "dense"
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"{fn}: x must be an array (..., D_in), got {type(x).__name__}")
    if len(shape) < 1:
        raise ValueError(f"{fn}: x must have rank >= 1 (..., D_in), got shape {tuple(shape)}")
    kshape = _checks.rank(kernel, 2, fn, "kernel", "(D_in, D_out)")
    _checks.floating(x, fn, "x")
    _checks.floating(kernel, fn, "kernel")
    if shape[-1] != kshape[0]:
        raise ValueError(
            f"{fn}: x must have last axis D_in = kernel.shape[0] = {kshape[0]}, "
            f"got x shape {tuple(shape)}"
        )
    x, kernel = common_dtype(x, kernel)  # dot_general alone would pick one operand's dtype
    y = lax.dot_general(x, kernel, (((x.ndim - 1,), (0,)), ((), ())))  # (..., D_out)
    if bias is None:
        return y
    bshape = _checks.rank(bias, 1, fn, "bias", "(D_out,)")
    if bshape[0] != kshape[1]:
        raise ValueError(f"{fn}: bias must have shape ({kshape[1]},), got {bshape}")
    # Explicit leading ones: rank promotion is an error in this project's tests.
    return y + bias.reshape((1,) * (y.ndim - 1) + (kshape[1],))
