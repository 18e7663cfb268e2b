"""Data sets as device arrays plus a pure, jittable ``take``; shuffling as a pure function.

A batch is built *inside* the compiled step from an index vector, so the host sends only
int32 indices (or nothing: a whole epoch's index matrix goes over once).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A data set: ``arrays`` (a pytree of arrays) and ``take(arrays, indices) -> batch``.

    Attributes:
      arrays: pytree of arrays; not necessarily one row per example (e.g. a frame bank).
      take: pure, jittable ``(arrays, indices (B,) int32) -> {"x", "y", optional "weight"}``;
        ``y`` is int32 ``(B,)`` or ``(B, L)``, ``weight`` float32 with ``y``'s shape.
      size: the examples are the integers ``[0, size)``.
      streamed: the arrays stay in host memory (NumPy arrays or ``np.load(mmap_mode="r")``
        memory maps) and ``fit`` / ``evaluate`` / ``predict`` send one call's rows at a time
        (see `Dataset.streaming`); ``take`` must then be row-wise (`take_rows`).
    """

    arrays: object
    take: Callable[[Any, jax.Array], dict]  # Any: the arrays pytree, whatever its structure
    size: int
    streamed: bool = False  # arrays stay on the host; see `Dataset.streaming`

    def __post_init__(self):
        bad_type = not isinstance(self.size, int | np.integer) or isinstance(self.size, bool)
        if bad_type or self.size < 1:
            raise ValueError(f"Dataset: size must be a positive int, got {self.size!r}")
        if not callable(self.take):
            raise TypeError(f"Dataset: take must be callable, got {type(self.take).__name__}")

    @staticmethod
    def from_arrays(x, y, weight=None) -> Dataset:
        """The plain case: example ``i`` is ``x[i]``, ``y[i]`` (and ``weight[i]``).

        Args:
          x: array ``(N, ...)`` (e.g. NHWC images) or a pytree of arrays with leading axis N.
          y: int labels ``(N,)`` or ``(N, L)``.
          weight: optional float ``(N,)`` or ``(N, L)`` matching ``y``; 0 = ignore.

        Returns:
          a Dataset of size N whose arrays live on the default device.

        Raises:
          ValueError: leading axes differ, y is not integer or does not fit in int32, or
            weight's shape differs from y's.
        """
        y, weight, n = _checked_rows(x, y, weight, "Dataset.from_arrays")
        arrays = {"x": jax.tree.map(jnp.asarray, x), "y": jnp.asarray(y)}
        if weight is not None:
            arrays["weight"] = jnp.asarray(weight)
        return Dataset(arrays=arrays, take=take_rows, size=n)

    @staticmethod
    def streaming(x, y, weight=None) -> Dataset:
        """Like `from_arrays`, for data too large for the device: the arrays stay on the host.

        Each compiled call receives only its own rows, gathered on the host in the order of its
        index matrix, together with the fixed local indices ``arange(S * B)``; the batches, and
        so the training run, are the same as with `from_arrays`. ``x`` may be a read-only memory
        map (``np.load(path, mmap_mode="r")``), so the data need not fit in host memory either.

        Args:
          x: host array ``(N, ...)`` (e.g. NHWC images; a memory map is not read here) or a
            pytree of them with leading axis N.
          y: int labels ``(N,)`` or ``(N, L)``.
          weight: optional float ``(N,)`` or ``(N, L)`` matching ``y``; 0 = ignore.

        Returns:
          a streamed Dataset of size N; ``x`` is the caller's array, not copied.

        Raises:
          ValueError: leading axes differ, y is not integer or does not fit in int32, or
            weight's shape differs from y's.
        """
        y, weight, n = _checked_rows(x, y, weight, "Dataset.streaming")
        arrays = {"x": x, "y": y}
        if weight is not None:
            arrays["weight"] = weight
        return Dataset(arrays=arrays, take=take_rows, size=n, streamed=True)


def _checked_rows(x, y, weight, fn):
    """``(y int32, weight float32 or None, N)`` after checking shapes; x is not copied."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{fn}: y must have an integer dtype, got {y.dtype}")
    if y.ndim not in (1, 2):
        raise ValueError(f"{fn}: y must have rank 1 (N,) or 2 (N, L), got shape {y.shape}")
    n = y.shape[0]
    for leaf in jax.tree.leaves(x):
        if np.shape(leaf)[:1] != (n,):
            raise ValueError(
                f"{fn}: x must have leading axis N={n} like y, got shape {np.shape(leaf)}"
            )
    if weight is not None:
        weight = np.asarray(weight, np.float32)
        if weight.shape != y.shape:
            raise ValueError(f"{fn}: weight must have shape {y.shape}, got {weight.shape}")
    if y.size and (y.dtype.itemsize > 4 or y.dtype == np.uint32):
        # Checked before the cast: 2**32 + 3 would otherwise train as label 3.
        lo, hi = int(y.min()), int(y.max())
        if lo < -(2**31) or hi >= 2**31:
            raise ValueError(f"{fn}: y must fit in int32, got labels from {lo} to {hi}")
    return y.astype(np.int32), weight, int(n)


def take_rows(arrays, indices: jax.Array) -> dict:
    """Gather rows ``indices`` (B,) of every leaf: the ``take`` of `Dataset.from_arrays`."""
    return jax.tree.map(lambda a: jnp.take(a, indices, axis=0), arrays)


def epoch_order(seed: int, epoch: int, size: int, bucket: int = 0) -> np.ndarray:
    """The shuffled example order of one epoch: a pure function of (seed, epoch, bucket).

    Returns:
      int32 permutation of ``range(size)``, shape ``(size,)``.
    """
    rng = np.random.default_rng([seed, epoch, bucket])
    return rng.permutation(size).astype(np.int32)


def train_index_matrix(seed: int, epoch: int, size: int, batch_size: int, bucket: int = 0):
    """An epoch's batches as an int32 matrix ``(size // batch_size, batch_size)``.

    The last partial batch is dropped (a different example is left out each epoch), so every
    training step has the same shape and compiles once.
    """
    steps = size // batch_size
    return epoch_order(seed, epoch, size, bucket)[: steps * batch_size].reshape(steps, batch_size)


def eval_index_matrix(size: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every example exactly once, padded to whole batches.

    Returns:
      indices int32 ``(ceil(size / B), B)`` (padding repeats index 0) and a float32 ``valid``
      matrix of the same shape (0 for padding), which multiplies the example weights.
    """
    steps = -(-size // batch_size)
    flat = np.zeros(steps * batch_size, np.int32)
    flat[:size] = np.arange(size, dtype=np.int32)
    valid = np.zeros(steps * batch_size, np.float32)
    valid[:size] = 1.0
    return flat.reshape(steps, batch_size), valid.reshape(steps, batch_size)
