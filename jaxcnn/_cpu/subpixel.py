"""A strided transposed convolution as one stride-1 correlation per output phase (sub-pixel).

The transposed convolution with stride ``s`` is a correlation of the input dilated by ``s``
(``s - 1`` zeros between entries) with the mirrored kernel. Correlating the explicit zeros
multiplies the work by ``prod(strides)``. But along each axis the outputs ``o = r + s * m`` of
one *phase* ``r`` only ever meet the kernel taps ``t`` with ``(o + t * d - lo) % s == 0``
(``lo`` the adjoint's low padding, ``d`` the dilation): every ``s / gcd(d, s)``-th tap, each
against an input entry that moves by one per ``m``. So phase ``r`` is an ordinary stride-1
correlation of the (undilated) input with that strided slice of the kernel, at dilation
``d / gcd(d, s)``, and the full output interleaves the phases: ``prod(strides)`` small
correlations that together do exactly the multiply-adds that touch real input entries. The
phases run on any lowering (``rows``, ``lanes``, ...), whose speed on the CPU is the point
(``docs/performance.md``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxcnn._cpu.xla_guards import concat_zeros


class AxisPhase(NamedTuple):
    """How one output phase of one axis reads the input and the kernel.

    ``out[r + s * m] = sum_j x[start + m + j * dilation] * kernel[tap + j * tap_step]`` for
    ``m < size`` and ``j < taps``; input entries outside ``[0, len(x))`` are zeros. Taps index
    the mirrored kernel that the correlation of the dilated input uses (tap ``t`` is the
    transposed convolution's tap ``k - 1 - t``).
    """

    size: int  # outputs in this phase
    tap: int  # first kernel tap it uses
    tap_step: int  # distance between the taps it uses
    taps: int  # how many taps it uses
    dilation: int  # the phase correlation's kernel dilation
    start: int  # input index of out[r] under kernel[tap]; may be negative (zero padding)

    @property
    def reach(self) -> int:
        """How many consecutive input positions, from ``start``, the phase reads."""
        return (self.size - 1) + self.dilation * (self.taps - 1) + 1


def axis_phases(size_in: int, size_out: int, k: int, s: int, d: int, lo: int) -> list:
    """Every phase ``r in range(s)`` of one axis: an :class:`AxisPhase`, or ``None`` if all zero.

    Args:
      size_in: the transposed convolution's input size on this axis.
      size_out: its output size (PyTorch's formula, already checked positive).
      k, s, d: kernel size, stride, dilation.
      lo: the adjoint's low padding of the dilated input, ``d * (k - 1) - padding`` (may be
        negative: then the output starts that far into the correlation).

    Returns:
      A list of ``s`` entries; ``None`` for a phase with no outputs, no kernel taps, or only
      zero padding under its window.
    """
    g = math.gcd(d, s)
    phases: list[AxisPhase | None] = []
    for r in range(s):
        size = len(range(r, size_out, s))
        taps = [t for t in range(k) if (r + t * d - lo) % s == 0]
        if size == 0 or not taps:
            phases.append(None)
            continue
        start = (r + taps[0] * d - lo) // s
        phase = AxisPhase(size, taps[0], s // g, len(taps), d // g, start)
        phases.append(phase if start < size_in and start + phase.reach > 0 else None)
    return phases


def conv_transpose_phases(
    x: jax.Array,
    kernel: jax.Array,
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    low_pads: tuple[int, ...],
    out_sizes: tuple[int, ...],
    groups: int,
    correlate: Callable,
) -> jax.Array:
    """The stride-dilated correlation behind a transposed convolution, phase by phase.

    Args:
      x: ``(N, *spatial, C_a)`` (NWC / NHWC), the transposed convolution's input.
      kernel: ``(*window, C_a // groups, C_b)``: the mirrored kernel with its in/out channels
        swapped per group (what the stride-1 correlation of the dilated input uses).
      strides, dilations: one positive int per spatial axis.
      low_pads: ``d * (k - 1) - padding`` per axis (see :func:`axis_phases`).
      out_sizes: the output's spatial sizes.
      groups: the correlation's ``feature_group_count``.
      correlate: ``correlate(x, kernel, dilations, pads, groups) -> (N, *out, C_b)``, a
        stride-1 correlation with non-negative ``(low, high)`` pads (a lowering).

    Returns:
      ``(N, *out_sizes, C_b)``: the same numbers as correlating the explicit zeros.
    """
    n = len(strides)
    per_axis = [
        axis_phases(size_in, size_out, k, s, d, lo)
        for size_in, size_out, k, s, d, lo in zip(
            x.shape[1:-1], out_sizes, kernel.shape[:n], strides, dilations, low_pads, strict=True
        )
    ]
    longest = [-(-size // s) for size, s in zip(out_sizes, strides, strict=True)]  # phase 0's
    c_b = kernel.shape[-1]
    blocks = {}
    for phase in itertools.product(*(range(s) for s in strides)):
        plans = [axes[r] for axes, r in zip(per_axis, phase, strict=True)]
        if any(p is None for p in plans):
            y = jnp.zeros((x.shape[0], *longest, c_b), x.dtype)
        else:
            y = _one_phase(x, kernel, plans, groups, correlate)
            # Zeros by concatenation: a lax.pad's transpose could reach XLA as a negative pad.
            y = concat_zeros(y, after=[m - p.size for m, p in zip(longest, plans, strict=True)])
        blocks[phase] = y
    # Interleave: (N, M_1, s_1, M_2, s_2, ..., C) -> (N, M_1 * s_1, ..., C), then the exact size.
    stacked = _stack_phases(blocks, strides, (), n)
    y = stacked.reshape(x.shape[0], *(m * s for m, s in zip(longest, strides, strict=True)), c_b)
    return lax.slice(y, (0,) * y.ndim, (y.shape[0], *out_sizes, c_b))


def _one_phase(x, kernel, plans, groups, correlate):
    """One phase's correlation: its input window (cropped or zero-padded) and strided taps."""
    starts, stops, pads, taps = [], [], [], []
    for size_in, p in zip(x.shape[1:-1], plans, strict=True):
        lo, hi = p.start, p.start + p.reach
        starts.append(max(lo, 0))
        stops.append(min(hi, size_in))
        pads.append((max(-lo, 0), max(hi - size_in, 0)))
        taps.append(slice(p.tap, p.tap + p.tap_step * (p.taps - 1) + 1, p.tap_step))
    window = lax.slice(x, (0, *starts, 0), (x.shape[0], *stops, x.shape[-1]))
    sub_kernel = kernel[(*taps, slice(None), slice(None))]
    return correlate(window, sub_kernel, tuple(p.dilation for p in plans), tuple(pads), groups)


def _stack_phases(blocks, strides, prefix, n):
    """Nest ``blocks[(r_1, ..., r_n)]`` (each ``(N, *M, C)``) into ``(N, M_1, s_1, ..., C)``."""
    axis = len(prefix)
    if axis == n:
        return blocks[prefix]
    parts = [_stack_phases(blocks, strides, (*prefix, r), n) for r in range(strides[axis])]
    # Each part is (N, M_1, ..., M_axis+1, s_axis+1, ..., C): the axes after this one are
    # already interleaved behind their own M, so this axis's phases go right after M_axis+1.
    return jnp.stack(parts, axis=2 + axis)
