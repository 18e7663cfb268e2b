"""Naive NumPy references for convolution and transposed convolution.

Plain loops in float64 over every output (conv) or input (transposed conv) position, written
straight from the definitions, independent of ``jax.lax`` and of ``jaxcnn``'s own padding code.
Shapes are channels-last: x ``(N, *spatial, C)``, kernel ``(*window, C_in // groups, C_out)``.
"""

from __future__ import annotations

import numpy as np


def explicit_pads(padding, in_sizes, window, stride, dilation):
    """Resolve a padding spec to (low, high) pairs, from the textbook formulas."""
    eff = [(k - 1) * d + 1 for k, d in zip(window, dilation, strict=True)]
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return [(0, 0)] * len(in_sizes)
        if mode == "FULL":
            return [(e - 1, e - 1) for e in eff]
        if mode == "CAUSAL":
            return [(e - 1, 0) for e in eff]
        if mode == "SAME":  # TensorFlow: output ceil(n / s), the odd pixel at the end
            pads = []
            for n, e, s in zip(in_sizes, eff, stride, strict=True):
                total = max((int(np.ceil(n / s)) - 1) * s + e - n, 0)
                pads.append((total // 2, total - total // 2))
            return pads
        raise ValueError(padding)
    if isinstance(padding, int):
        return [(padding, padding)] * len(in_sizes)
    return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


def conv(x, kernel, stride, pads, dilation, groups=1, flip=False, bias=None):
    """``y[n, p, o] = sum_{k, c} x_pad[n, p * s + k * d, g * C_in/groups + c] * w[k, c, o]``.

    Args:
      x: ``(N, *spatial, C_in)``; kernel: ``(*window, C_in // groups, C_out)``;
      stride, dilation: per spatial axis; pads: (low, high) per spatial axis.

    Returns:
      float64 ``(N, *out_spatial, C_out)``.
    """
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    nsp = x.ndim - 2
    if flip:
        kernel = kernel[(slice(None, None, -1),) * nsp]
    xp = np.pad(x, [(0, 0), *pads, (0, 0)])
    window, cig, c_out = kernel.shape[:nsp], kernel.shape[-2], kernel.shape[-1]
    cog = c_out // groups
    out_sizes = [
        (xp.shape[1 + i] - (window[i] - 1) * dilation[i] - 1) // stride[i] + 1 for i in range(nsp)
    ]
    y = np.zeros((x.shape[0], *out_sizes, c_out))
    for o in range(c_out):
        g = o // cog
        for pos in np.ndindex(*out_sizes):
            acc = np.zeros(x.shape[0])
            for kpos in np.ndindex(*window):
                src = tuple(pos[i] * stride[i] + kpos[i] * dilation[i] for i in range(nsp))
                acc += (
                    xp[(slice(None), *src, slice(g * cig, (g + 1) * cig))]
                    @ kernel[(*kpos, slice(None), o)]
                )
            y[(slice(None), *pos, o)] = acc
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    return y


def conv_transpose(y, kernel, stride, padding, output_padding, dilation, groups=1, bias=None):
    """Transposed convolution as a scatter (PyTorch's definition).

    Every input value ``y[n, p, a]`` adds ``y[n, p, a] * w[k, :, a]`` to the output at
    ``p * s + k * d - padding``, on the ``C_b // groups`` channels of group ``a // (C_a /
    groups)``; positions falling outside the output are dropped.

    Args:
      y: ``(N, *spatial, C_a)``; kernel: ``(*window, C_b // groups, C_a)`` (the kernel of the
        conv ``C_b -> C_a``); stride, padding, output_padding, dilation: per spatial axis.

    Returns:
      float64 ``(N, *out_spatial, C_b)``, ``out = (in - 1) * s - 2 * p + d * (k - 1) + op + 1``.
    """
    y = np.asarray(y, np.float64)
    kernel = np.asarray(kernel, np.float64)
    nsp = y.ndim - 2
    window, cbg, c_a = kernel.shape[:nsp], kernel.shape[-2], kernel.shape[-1]
    cag = c_a // groups
    in_sizes = y.shape[1:-1]
    out_sizes = [
        (in_sizes[i] - 1) * stride[i]
        - 2 * padding[i]
        + dilation[i] * (window[i] - 1)
        + output_padding[i]
        + 1
        for i in range(nsp)
    ]
    out = np.zeros((y.shape[0], *out_sizes, cbg * groups))
    for a in range(c_a):
        g = a // cag
        for pos in np.ndindex(*in_sizes):
            for kpos in np.ndindex(*window):
                dst = [pos[i] * stride[i] + kpos[i] * dilation[i] - padding[i] for i in range(nsp)]
                if all(0 <= dst[i] < out_sizes[i] for i in range(nsp)):
                    out[(slice(None), *dst, slice(g * cbg, (g + 1) * cbg))] += np.outer(
                        y[(slice(None), *pos, a)], kernel[(*kpos, slice(None), a)]
                    )
    if bias is not None:
        out = out + np.asarray(bias, np.float64)
    return out
