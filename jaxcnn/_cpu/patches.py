"""The patch-matrix lowering of a convolution: shifted copies, one concatenation, one matmul.

XLA's CPU convolution (and above all its filter gradient) runs far below the machine's matrix
product speed. Writing the same convolution as an explicit patch matrix
``P[n, *pos, (offset, c)] = x_pad[n, pos * stride + offset * dilation, c]`` followed by one
``dot_general`` with the kernel reshaped to ``(prod(window) * C_in, C_out)`` turns the forward
pass *and* both gradients into matrix products (the transposes of the slices and of the
concatenation are pads and slices that XLA fuses), which the CPU backend runs near its peak.

The patch matrix costs ``prod(window)`` times the input's memory, so this lowering pays off when
the matmul dominates: enough channels, small windows (the tuner
measures when: :mod:`jaxcnn._cpu.autotune`).
Writing a patch matrix much larger than the caches costs more than the matmul itself on a
2-core machine (LeNet's second layer at batch 256: 160 MB, 144 ms to build, 40 ms to multiply),
so a large batch is convolved a few examples at a time (:data:`CHUNK_ELEMENTS`).
Inputs here are already checked and canonicalised by :func:`jaxcnn.functional.conv.conv2d`.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
from jax import lax

from jaxcnn.functional._padding import conv_out_sizes


def conv_patches(
    x: jax.Array,
    kernel: jax.Array,
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: tuple[tuple[int, int], ...],
    groups: int,
) -> jax.Array:
    """Cross-correlation of a channels-last batch as a patch matrix times the kernel.

    Args:
      x: ``(N, *spatial, C_in)`` (NWC or NHWC), one dtype with ``kernel``.
      kernel: ``(*window, C_in // groups, C_out)`` (WIO or HWIO), already flipped if needed.
      strides, dilations: positive ints, one per spatial axis.
      pads: ``(low, high)`` non-negative zero padding per spatial axis.
      groups: divides ``C_in`` and ``C_out``.

    Returns:
      ``(N, *out, C_out)`` with ``out[i] = (size + low + high - dilation * (k - 1) - 1) //
      stride + 1``: the same numbers as ``lax.conv_general_dilated``.
    """

    def conv(xs):
        return patches_matmul(
            extract_patches(xs, kernel.shape[:-2], strides, dilations, pads), kernel, groups
        )

    chunk = batch_chunk(x.shape[0], patch_elements(x.shape, kernel.shape, strides, dilations, pads))
    if chunk is x.shape[0] or chunk == x.shape[0]:
        return conv(x)
    # A patch matrix far larger than the caches makes the lowering memory-bound (writing it costs
    # more than the matmul): convolve the batch a few images at a time instead, and recompute
    # each chunk's patches in the backward pass rather than storing them all.
    xs = x.reshape(x.shape[0] // chunk, chunk, *x.shape[1:])
    ys = lax.map(jax.checkpoint(conv, prevent_cse=False), xs)
    return ys.reshape(x.shape[0], *ys.shape[2:])


# The largest patch matrix, in elements, convolved in one piece: about 4 MB of float32, which
# stays in the last-level cache (2-core CPU, LeNet's 14x14x32 -> 64 layer at batch 256: forward
# plus both gradients 262 ms in one piece, 150 ms in chunks of 4-8 images, `lax` 340 ms).
CHUNK_ELEMENTS = 2**20


def patch_elements(x_shape, kernel_shape, strides, dilations, pads) -> int:
    """Elements of one example's patch matrix: output positions times window times ``C_in``."""
    window = kernel_shape[:-2]
    positions = math.prod(conv_out_sizes(x_shape[1:-1], window, strides, dilations, pads))
    return positions * math.prod(window) * x_shape[-1]


def batch_chunk(batch: int, per_example: int) -> int:
    """The largest divisor of ``batch`` whose patch matrix fits :data:`CHUNK_ELEMENTS` (>= 1;
    an empty batch is its own chunk, 0)."""
    if not isinstance(batch, int):  # a symbolic batch (jax.export): one chunk
        return batch
    if batch == 0:
        return 0
    fits = max(CHUNK_ELEMENTS // max(per_example, 1), 1)
    return max(c for c in range(1, min(batch, fits) + 1) if batch % c == 0)


def extract_patches(
    x: jax.Array,
    window: tuple[int, ...],
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: tuple[tuple[int, int], ...],
) -> jax.Array:
    """The patch matrix: the padded input shifted once per kernel offset, offsets outermost.

    Args:
      x: ``(N, *spatial, C)``.
      window: kernel sizes per spatial axis; strides, dilations, pads: as :func:`conv_patches`.

    Returns:
      ``(N, *out, prod(window) * C)``; channel ``j * C + c`` holds offset number ``j`` (row-major
      over ``window``, the order of an HWIO kernel's reshape) of input channel ``c``.
    """
    n = x.ndim - 2
    out = conv_out_sizes(x.shape[1:-1], window, strides, dilations, pads)
    if any(lo or hi for lo, hi in pads):
        x = lax.pad(
            x, jnp.zeros((), x.dtype), [(0, 0, 0), *[(lo, hi, 0) for lo, hi in pads], (0, 0, 0)]
        )
    cols = []
    for offset in itertools.product(*(range(k) for k in window)):
        start = [o * d for o, d in zip(offset, dilations, strict=True)]
        limit = [s + (m - 1) * st + 1 for s, m, st in zip(start, out, strides, strict=True)]
        cols.append(
            lax.slice(x, (0, *start, 0), (x.shape[0], *limit, x.shape[-1]), (1, *strides, 1))
        )
    return cols[0] if len(cols) == 1 else lax.concatenate(cols, n + 1)


def patches_matmul(patches: jax.Array, kernel: jax.Array, groups: int) -> jax.Array:
    """Contract a patch matrix with an HWIO/WIO kernel: one matmul, or one batched over groups.

    Args:
      patches: ``(N, *out, K * C_in)`` from :func:`extract_patches`, ``K = prod(window)``.
      kernel: ``(*window, C_in // groups, C_out)``.
      groups: divides ``C_in`` and ``C_out``.

    Returns:
      ``(N, *out, C_out)``.
    """
    n = kernel.ndim - 2
    k = math.prod(kernel.shape[:n])
    cg, c_out = kernel.shape[-2], kernel.shape[-1]
    lead = patches.shape[:-1]
    if groups == 1:
        w = kernel.reshape(k * cg, c_out)
        return lax.dot_general(patches, w, (((patches.ndim - 1,), (0,)), ((), ())))
    og = c_out // groups
    # Rows of the batched product: (offset, group, channel) -> batch over group, contract the rest.
    p = patches.reshape(math.prod(lead), k, groups, cg)
    w = kernel.reshape(k, cg, groups, og)
    y = lax.dot_general(p, w, (((1, 3), (0, 1)), ((2,), (2,))))  # (G, M, og)
    return jnp.transpose(y, (1, 0, 2)).reshape(*lead, c_out)
