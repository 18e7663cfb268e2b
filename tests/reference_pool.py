"""Naive NumPy pooling: explicit loops over output positions, written from PyTorch's
definitions (``ceil_mode=False``), to check ``jaxcnn.functional.pool`` against.

Padding is given explicitly as ``(low, high)`` pairs per spatial axis; a padded position is
simply skipped by max pooling and counted (or not) by average pooling.
"""

import itertools

import numpy as np


def pool(x, window, stride, pads, kind, count_include_pad=True):
    """x: (N, *spatial, C) float64; window, stride: per spatial axis; pads: (low, high) pairs.

    kind: "max" or "avg". Returns (N, *out, C).
    """
    x = np.asarray(x, np.float64)
    n, *spatial, c = x.shape
    out = [
        (size + lo + hi - k) // s + 1
        for size, k, s, (lo, hi) in zip(spatial, window, stride, pads, strict=True)
    ]
    y = np.zeros((n, *out, c))
    for pos in itertools.product(*(range(o) for o in out)):
        values, padded = [], 0
        for offset in itertools.product(*(range(k) for k in window)):
            idx = [
                p * s - lo + o for p, s, (lo, _), o in zip(pos, stride, pads, offset, strict=True)
            ]
            if all(0 <= i < size for i, size in zip(idx, spatial, strict=True)):
                values.append(x[(slice(None), *idx, slice(None))])  # (N, C)
            else:
                padded += 1
        stack = np.stack(values)  # (real, N, C)
        if kind == "max":
            y[(slice(None), *pos, slice(None))] = stack.max(axis=0)
        else:
            count = len(values) + (padded if count_include_pad else 0)
            y[(slice(None), *pos, slice(None))] = stack.sum(axis=0) / count
    return y


def global_pool(x, mask, kind):
    """x: (N, *spatial, C); mask: (N, *spatial) bool or None. Returns (N, C), 0 if all masked."""
    x = np.asarray(x, np.float64)
    n, c = x.shape[0], x.shape[-1]
    y = np.zeros((n, c))
    for b in range(n):
        flat = x[b].reshape(-1, c)
        if mask is not None:
            flat = flat[np.asarray(mask[b]).reshape(-1)]
        if len(flat):
            y[b] = flat.max(axis=0) if kind == "max" else flat.mean(axis=0)
    return y
