"""Parameter and multiply-accumulate counts in closed form, and for real parameter pytrees.

Convention: one MAC is one multiply followed by one add; ``FLOPs = 2 * MACs``. Only the
multiply-accumulates of convolutions and dense layers are counted (as fvcore / most papers do);
biases, activations, pooling and normalisation are left out. Counts are per call, so a batch
of ``N`` costs ``N`` times a single example (and an empty batch costs 0). Python ints
throughout (no overflow at 10^10).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax

from jaxcnn._checks import non_negative_ints, ntuple, positive, positive_ints


def conv_params(
    kernel_size: Sequence[int] | int, c_in: int, c_out: int, groups: int = 1, bias: bool = True
) -> int:
    """Trainable numbers of a convolution: ``prod(k) * c_in / groups * c_out (+ c_out)``.

    The notes' ``|theta| = w_k * h_k * d_in * d_out + d_out`` for a 2D kernel and ``groups=1``.

    Args:
      kernel_size: the window, e.g. ``(3, 3)``, or an int for a 1-D window (``5``); c_in,
        c_out: channels;
      groups: divides both; bias: count a ``(c_out,)`` bias.

    Returns:
      The count (int).

    Raises:
      TypeError: a non-int argument, or a kernel_size that is neither an int nor a sequence
        of ints (a float, ``None``, a bool). ValueError: non-positive values, an empty
        kernel_size, or groups not dividing the channels.
    """
    window, c_in, c_out, groups = _conv_args(kernel_size, c_in, c_out, groups, "conv_params")
    return math.prod(window) * (c_in // groups) * c_out + (c_out if bias else 0)


def conv_transpose_params(
    kernel_size: Sequence[int] | int, c_in: int, c_out: int, groups: int = 1, bias: bool = True
) -> int:
    """Trainable numbers of a transposed conv ``c_in -> c_out``: kernel ``(*k, c_out/g, c_in)``.

    Returns ``prod(k) * c_out / groups * c_in (+ c_out)``. Raises as :func:`conv_params`.
    """
    fn = "conv_transpose_params"
    window, c_in, c_out, groups = _conv_args(kernel_size, c_in, c_out, groups, fn)
    return math.prod(window) * (c_out // groups) * c_in + (c_out if bias else 0)


def dense_params(d_in: int, d_out: int, bias: bool = True) -> int:
    """Trainable numbers of a dense layer: ``d_in * d_out (+ d_out)``.

    Raises: TypeError / ValueError for non-int or non-positive sizes.
    """
    d_in, d_out = positive_ints("dense_params", d_in=d_in, d_out=d_out)
    return d_in * d_out + (d_out if bias else 0)


def count_params(tree: Any) -> int:
    """Total number of scalars in a pytree of arrays or ``jax.ShapeDtypeStruct`` s.

    Works on the output of ``jax.eval_shape(model.init, ...)``, so a 10^10-parameter model is
    counted without allocating it. Pass ``variables["params"]`` for the trainable count.

    Args:
      tree: any pytree whose leaves have a ``shape``.

    Returns:
      The sum of ``prod(leaf.shape)`` (a Python int).

    Raises:
      TypeError: a leaf without a shape.
    """
    total = 0
    for leaf in jax.tree_util.tree_leaves(tree):
        shape = getattr(leaf, "shape", None)
        if shape is None:
            raise TypeError(f"count_params: tree leaves must be arrays, got {type(leaf).__name__}")
        total += math.prod(int(s) for s in shape)
    return total


def conv_macs(
    out_spatial: Sequence[int],
    kernel_size: Sequence[int] | int,
    c_in: int,
    c_out: int,
    groups: int = 1,
    batch: int = 1,
) -> int:
    """Multiply-accumulates of a convolution: each output element costs ``prod(k) * c_in / g``.

    Args:
      out_spatial: the output's spatial sizes, e.g. ``(H_out, W_out)``; kernel_size: the
        window, an int (the same on every axis) or one int per axis of ``out_spatial``;
      c_in, c_out, groups: channels; batch: examples (>= 0; an empty batch costs 0).

    Returns:
      ``batch * prod(out_spatial) * c_out * prod(k) * c_in / groups``.

    Raises:
      TypeError: a non-int argument (bool included).
      ValueError: a negative batch, a non-positive output size, a kernel_size sequence whose
        length differs from out_spatial's; otherwise as :func:`conv_params`.
    """
    fn = "conv_macs"
    out_spatial = _window(out_spatial, fn, "out_spatial")
    window, c_in, c_out, groups = _conv_args(kernel_size, c_in, c_out, groups, fn, out_spatial)
    (batch,) = non_negative_ints(fn, batch=batch)
    return batch * math.prod(out_spatial) * c_out * math.prod(window) * (c_in // groups)


def conv_transpose_macs(
    in_spatial: Sequence[int],
    kernel_size: Sequence[int] | int,
    c_in: int,
    c_out: int,
    groups: int = 1,
    batch: int = 1,
) -> int:
    """MACs of a transposed conv: every input element meets ``prod(k) * c_out / g`` weights.

    Returns ``batch * prod(in_spatial) * c_in * prod(k) * c_out / groups``; ``batch`` is an
    int >= 0 (an empty batch costs 0). Raises as :func:`conv_macs`.
    """
    fn = "conv_transpose_macs"
    in_spatial = _window(in_spatial, fn, "in_spatial")
    window, c_in, c_out, groups = _conv_args(kernel_size, c_in, c_out, groups, fn, in_spatial)
    (batch,) = non_negative_ints(fn, batch=batch)
    return batch * math.prod(in_spatial) * c_in * math.prod(window) * (c_out // groups)


def dense_macs(d_in: int, d_out: int, positions: int = 1) -> int:
    """MACs of a dense layer applied at ``positions`` rows: ``positions * d_in * d_out``.

    Raises: TypeError for a non-int argument; ValueError for non-positive sizes or negative
    ``positions`` (0 rows, an empty batch, cost 0).
    """
    d_in, d_out = positive_ints("dense_macs", d_in=d_in, d_out=d_out)
    (positions,) = non_negative_ints("dense_macs", positions=positions)
    return positions * d_in * d_out


def flops(macs: int) -> int:
    """``2 * macs``: one multiply and one add per MAC (the convention of this module)."""
    return 2 * macs


def _conv_args(
    kernel_size: Any,
    c_in: Any,
    c_out: Any,
    groups: Any,
    fn: str,
    spatial: Sequence[int] | None = None,
) -> tuple[tuple[int, ...], int, int, int]:
    """``(window, c_in, c_out, groups)`` checked, with errors naming the public ``fn``.

    With ``spatial`` (the sizes a MAC count multiplies by), an int ``kernel_size`` is that
    many axes wide, as ``Conv2d(kernel_size=3)`` is 3x3, and a sequence must match its length.
    """
    if spatial is None:
        window = _window(kernel_size, fn, "kernel_size")
    else:
        window = positive(ntuple(kernel_size, len(spatial), fn, "kernel_size"), fn, "kernel_size")
    c_in, c_out, groups = positive_ints(fn, c_in=c_in, c_out=c_out, groups=groups)
    if c_in % groups or c_out % groups:
        raise ValueError(f"{fn}: groups must divide c_in {c_in} and c_out {c_out}, got {groups}")
    return window, c_in, c_out, groups


def _window(k: Any, fn: str, arg: str) -> tuple[int, ...]:
    """``k`` (an int or a non-empty sequence of positive ints, e.g. a kernel) as a tuple."""
    return positive(ntuple(k, None, fn, arg), fn, arg)
