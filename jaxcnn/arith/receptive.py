"""Receptive fields of a chain of convolution / pooling layers, in closed form.

For layer ``l`` with kernel ``k``, stride ``s``, dilation ``d`` and low-side padding ``p``
(per spatial axis), starting from ``r_0 = 1, j_0 = 1, start_0 = 0`` on the input:

* size  ``r_l = r_{l-1} + (k_l - 1) * d_l * j_{l-1}``  (input pixels one unit sees);
* jump  ``j_l = j_{l-1} * s_l``  (input distance between neighbouring units);
* start ``start_l = start_{l-1} - p_l * j_{l-1}``  (input index of the first pixel seen by
  unit 0; negative means it lies in the padding).

Unit ``i`` of layer ``l`` sees input indices ``[start_l + i j_l, start_l + i j_l + r_l - 1]``
(clipped to the image): ``r`` is the extent from the first to the last pixel seen; with
dilation > 1 some pixels inside it are skipped. Pure Python ints; no JAX.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from jaxcnn._checks import is_int, ntuple


@dataclasses.dataclass(frozen=True)
class Window:
    """One conv or pool layer's geometry: ints (all axes) or tuples (one per axis).

    Attributes:
      kernel: kernel / pool window size.
      stride: step (default 1; a pool's stride is usually its window, say so explicitly).
      dilation: kernel dilation (default 1).
      padding: an int (both sides) or one int / ``(low, high)`` pair per axis; only the low
        side moves ``start``.
    """

    kernel: int | tuple[int, ...]
    stride: int | tuple[int, ...] = 1
    dilation: int | tuple[int, ...] = 1
    padding: int | tuple = 0


@dataclasses.dataclass(frozen=True)
class Field:
    """Receptive field after a layer, per spatial axis.

    Attributes:
      size: ``r``, pixels along each axis that one unit sees.
      jump: ``j``, input distance between neighbouring units.
      start: input index of the first pixel seen by unit 0 (may be negative: padding).
    """

    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[int, ...]

    def span(self, index: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """Inclusive input interval ``(first, last)`` per axis seen by unit ``index``."""
        axes = zip(self.start, index, self.jump, self.size, strict=True)
        return tuple((s + i * j, s + i * j + r - 1) for s, i, j, r in axes)


def receptive_fields(windows: Sequence[Window], ndim: int = 2) -> list[Field]:
    """Receptive field size, jump and start after each layer of a chain.

    Args:
      windows: the chain's conv / pool layers in order, as :class:`Window` s (layers that act
        position-wise, such as activations and batch norm, leave the field unchanged and are
        simply left out).
      ndim: number of spatial axes (1 for NWC, 2 for NHWC).

    Returns:
      One :class:`Field` per window.

    Raises:
      TypeError: a non-``Window`` element, or a kernel, stride, dilation or padding that is
        not an int / a tuple of ints (a float, ``None``, a bool, a malformed pad pair).
      ValueError: non-positive kernel, stride or dilation, a negative pad, or a per-axis
        tuple of the wrong length.
    """
    fn = "receptive_fields"
    if not is_int(ndim) or ndim < 1:
        raise ValueError(f"{fn}: ndim must be a positive int, got {ndim!r}")
    size, jump, start = [1] * ndim, [1] * ndim, [0] * ndim
    out = []
    for i, w in enumerate(windows):
        if not isinstance(w, Window):
            raise TypeError(f"{fn}: windows must contain Window, got {type(w).__name__} at {i}")
        k = _axes(w.kernel, ndim, fn, "kernel", 1)
        s = _axes(w.stride, ndim, fn, "stride", 1)
        d = _axes(w.dilation, ndim, fn, "dilation", 1)
        low = _low_pads(w.padding, ndim, fn)
        for a in range(ndim):
            start[a] -= low[a] * jump[a]
            size[a] += (k[a] - 1) * d[a] * jump[a]
            jump[a] *= s[a]
        out.append(Field(tuple(size), tuple(jump), tuple(start)))
    return out


def _axes(v: Any, n: int, fn: str, name: str, minimum: int) -> tuple[int, ...]:
    vals = ntuple(v, n, fn, name)
    if any(x < minimum for x in vals):
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {v!r}")
    return vals


def _low_pads(padding: Any, n: int, fn: str) -> tuple[int, ...]:
    """The low-side pad per axis; every entry (both sides of a pair) is checked."""
    if is_int(padding):
        entries = [padding] * n
    elif isinstance(padding, Sequence) and not isinstance(padding, str):
        entries = list(padding)
        if len(entries) != n:
            raise ValueError(
                f"{fn}: padding must be an int or one entry per axis ({n}), got {padding!r}"
            )
    else:
        raise TypeError(
            f"{fn}: padding must be an int, or one int or (low, high) pair per axis, "
            f"got {type(padding).__name__} {padding!r}"
        )
    lows = []
    for e in entries:
        pair = (e, e) if is_int(e) else e
        if not (isinstance(pair, Sequence) and len(pair) == 2 and all(is_int(p) for p in pair)):
            raise TypeError(
                f"{fn}: padding must contain ints or (low, high) pairs, got "
                f"{type(e).__name__} {e!r} in {padding!r}"
            )
        if min(pair) < 0:
            raise ValueError(f"{fn}: padding must be non-negative, got {padding!r}")
        lows.append(int(pair[0]))
    return tuple(lows)
