"""The "rows" lowering of a 2-D convolution: kernel rows on the channel axis, then a 1-D one.

On the 2-core CPU (jax 0.10.2) XLA runs a 2-D convolution on one core and a 1-D convolution on
both (measured with the process's CPU time: 1.0 and 1.9 cores busy). A 2-D convolution is a
1-D convolution along the last spatial axis of a *row stack*: for each kernel row ``i``, the
padded input's rows ``h * stride + i * dilation``, stacked on the channel axis,

    R[n, h, w, i * C_in + c] = x_pad[n, h * stride_h + i * dilation_h, w, c],

convolved along ``w`` with the kernel reshaped to ``(KW, KH * C_in, C_out)``. The stack costs
``KH`` copies of the input where the patch matrix costs ``KH * KW``, and the 1-D convolution
and both of its gradients run on both cores. It wins where the patch matrix is mostly copying:
one input channel (LeNet's first layer at batch 256: forward 12 ms against 18 ms for the patch
matrix, kernel gradient 11 against 24; the whole LeNet step 762 -> 855 samples/s in a
same-process A/B).

A large batch is convolved in chunks (:func:`batch_chunks`), each with a row stack of at most
:data:`STACK_CHUNK_BYTES`, and the outputs concatenated: the stack is written, read by the
convolution and, in the backward, transposed and read again, and a chunk's stack does all of
that inside the last-level cache where the whole batch's went to memory each time. Inputs here
are already checked and canonicalised by ``conv2d``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from jaxcnn._cpu.lax_conv import conv_lax
from jaxcnn.functional._padding import conv_out_sizes

#: The most bytes of row stack :func:`conv_rows` builds at a time: a quarter of the 32 MiB
#: last-level cache of the machine it was measured on. LeNet's 32-to-64 layer at batch 256 (a
#: 32 MB stack) in four chunks ran the whole training step 6-13% faster than in one, and
#: faster than in two or eight (docs/performance.md).
STACK_CHUNK_BYTES = 8 * 2**20


def rows_supported(n_spatial: int, groups: int) -> str | None:
    """Why the rows lowering cannot take a convolution, or ``None`` when it can.

    Args:
      n_spatial: the number of spatial axes (1 for ``conv1d``, 2 for ``conv2d``).
      groups: the convolution's groups.

    Returns:
      ``None``, or a phrase for a ``"... must be ..., got ..."`` error message.
    """
    if n_spatial != 2:
        return f"lowering='rows' needs two spatial axes (conv2d), got {n_spatial}"
    if groups != 1:
        return f"groups must be 1 for lowering='rows', got {groups}"
    return None


def conv_rows(
    x: jax.Array,
    kernel: jax.Array,
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: tuple[tuple[int, int], ...],
    groups: int = 1,
) -> jax.Array:
    """Cross-correlation of an NHWC batch as a row stack and one 1-D convolution.

    Args:
      x: ``(N, H, W, C_in)``, one dtype with ``kernel``.
      kernel: ``(KH, KW, C_in, C_out)`` (HWIO, groups 1), already flipped if needed.
      strides, dilations: two positive ints each.
      pads: ``(low, high)`` non-negative zero padding per spatial axis.
      groups: must be 1 (the signature is that of every lowering).

    Returns:
      ``(N, H_out, W_out, C_out)``: the same numbers as ``lax.conv_general_dilated``.

    Raises:
      ValueError: not a 2-D convolution, or ``groups != 1`` (callers check
        :func:`rows_supported` first).
    """
    why = rows_supported(x.ndim - 2, groups)
    if why is not None:
        raise ValueError(f"conv_rows: {why}")
    chunks = batch_chunks(x.shape, kernel.shape, strides, dilations, pads, x.dtype.itemsize)
    if len(chunks) == 1:
        return _conv_rows(x, kernel, strides, dilations, pads)
    # One row stack per chunk: each stays in the last-level cache from its build through the
    # convolution and, in the backward, the transposes and convolutions that read it again.
    # Unrolled, not lax.map: XLA:CPU leaves a convolution inside a loop body unoptimised (the
    # LeNet step took 4.1 s that way).
    ys = [_conv_rows(x[lo:hi], kernel, strides, dilations, pads) for lo, hi in chunks]
    return lax.concatenate(ys, 0)


def batch_chunks(
    x_shape: tuple[int, ...],
    kernel_shape: tuple[int, ...],
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: tuple[tuple[int, int], ...],
    itemsize: int,
) -> list[tuple[int, int]]:
    """The batch chunks :func:`conv_rows` builds one row stack for at a time.

    Args:
      x_shape: ``(N, H, W, C_in)``.
      kernel_shape: ``(KH, KW, C_in, C_out)``.
      strides, dilations, pads: as :func:`conv_rows`.
      itemsize: bytes per element of ``x``.

    Returns:
      ``[(start, stop), ...]`` covering ``range(N)`` in order: as few near-equal chunks as keep
      each chunk's row stack within :data:`STACK_CHUNK_BYTES` (one image per chunk at most, if a
      single image's stack is larger); one chunk for a symbolic batch size.
    """
    n, _, w, c_in = x_shape
    if not isinstance(n, int):  # a symbolic batch (jax.export): one chunk of any size
        return [(0, n)]
    kh = kernel_shape[0]
    (out_h,) = conv_out_sizes(x_shape[1:2], (kh,), strides[:1], dilations[:1], pads[:1])
    per_image = out_h * w * kh * c_in * itemsize  # the stack is padded in H only
    count = min(n, -(-(n * per_image) // STACK_CHUNK_BYTES))
    if count <= 1:  # it fits, or an empty batch
        return [(0, n)]
    size = -(-n // count)
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def _conv_rows(x, kernel, strides, dilations, pads):
    """:func:`conv_rows` for one batch chunk: the row stack and its 1-D convolution."""
    (kh, kw, c_in, c_out), (sh, sw), (dh, dw) = kernel.shape, strides, dilations
    (out_h,) = conv_out_sizes(x.shape[1:2], (kh,), (sh,), (dh,), pads[:1])
    low, high = pads[0]
    if low or high:
        x = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), (low, high, 0), (0, 0, 0), (0, 0, 0)])
    n, _, w, _ = x.shape
    rows = [
        lax.slice(x, (0, i * dh, 0, 0), (n, i * dh + (out_h - 1) * sh + 1, w, c_in), (1, sh, 1, 1))
        for i in range(kh)
    ]
    stack = rows[0] if kh == 1 else lax.concatenate(rows, 3)  # (N, H_out, W, KH * C_in)
    # Kernel row i, channel c sits at channel i * C_in + c of the stack: (KW, KH * C_in, C_out).
    flat = jnp.transpose(kernel, (1, 0, 2, 3)).reshape(kw, kh * c_in, c_out)
    y = conv_lax(stack.reshape(n * out_h, w, kh * c_in), flat, (sw,), (dw,), (pads[1],), 1)
    return y.reshape(n, out_h, y.shape[1], c_out)
