"""Canonicalise a convolution's ``padding`` argument to explicit ``(low, high)`` pairs.

Every public convolution accepts the same padding forms; turning them into one explicit form
here means the conv functions, the layers and the size arithmetic all agree on what, say,
``"SAME"`` with stride 2 means.
"""

from __future__ import annotations

from collections.abc import Sequence

from jaxcnn._checks import is_int

PADDING_STRINGS = ("VALID", "SAME", "FULL", "CAUSAL")


def conv_out_sizes(sizes, window, strides, dilations, pads) -> tuple[int, ...]:
    """Output positions per spatial axis of a convolution, from its canonical arguments.

    ``(size + low + high - dilation * (k - 1) - 1) // stride + 1`` on each axis; ``sizes`` are
    before padding. The lowerings share this one copy (``jaxcnn.arith.conv_output_size`` is the
    public, checked one; the functional modules cannot import ``jaxcnn.arith``, whose summary
    imports the layers).
    """
    return tuple(
        (size + lo + hi - d * (k - 1) - 1) // s + 1
        for size, k, s, d, (lo, hi) in zip(sizes, window, strides, dilations, pads, strict=True)
    )


def conv_padding(
    padding,
    in_sizes: Sequence[int],
    kernel_sizes: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    fn: str,
) -> tuple[tuple[int, int], ...]:
    """Explicit ``(low, high)`` zero padding per spatial axis.

    Args:
      padding: one of
        ``"VALID"`` (none), ``"SAME"`` (output size ``ceil(in / stride)``, the extra pad at the
        high end, exactly as ``jax.lax`` / TensorFlow), ``"FULL"`` (``(k - 1) * dilation`` on
        both sides: every partial overlap), ``"CAUSAL"`` (1D only: ``(k - 1) * dilation`` on
        the low side, so output ``t`` sees inputs ``<= t``), case-insensitive;
        an ``int`` ``p`` (``(p, p)`` on every axis); or a sequence with one entry per spatial
        axis, each an ``int`` (symmetric) or a ``(low, high)`` pair of ints.
      in_sizes: the input's spatial sizes.
      kernel_sizes: the kernel's spatial sizes (before dilation).
      strides, dilations: per spatial axis, already checked positive.
      fn: the public function name for error messages.

    Returns:
      A tuple of ``len(in_sizes)`` pairs ``(low, high)`` of non-negative ints.

    Raises:
      ValueError: an unknown padding string, ``"CAUSAL"`` with more than one spatial axis, a
        negative pad, or a sequence of the wrong length.
      TypeError: a float (or other non-int) where an int is needed.
    """
    n = len(in_sizes)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel_sizes, dilations, strict=True)]
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in PADDING_STRINGS:
            raise ValueError(
                f"{fn}: padding must be one of {list(PADDING_STRINGS)}, an int or "
                f"(low, high) pairs, got {padding!r}"
            )
        if mode == "VALID":
            return ((0, 0),) * n
        if mode == "FULL":
            return tuple((e - 1, e - 1) for e in eff)
        if mode == "CAUSAL":
            if n != 1:
                raise ValueError(
                    f"{fn}: padding must be 'CAUSAL' only for 1D convolutions, got {n} spatial axes"
                )
            return ((eff[0] - 1, 0),)
        same = []
        for size, e, s in zip(in_sizes, eff, strides, strict=True):
            out = -(-size // s)  # ceil
            total = max((out - 1) * s + e - size, 0)
            same.append((total // 2, total - total // 2))
        return tuple(same)
    if is_int(padding):
        pads = ((int(padding), int(padding)),) * n
    elif isinstance(padding, Sequence):
        if len(padding) != n:
            raise ValueError(
                f"{fn}: padding must have one int or (low, high) pair per spatial axis "
                f"({n}), got {padding!r}"
            )
        pads = tuple(_pair(p, fn, padding) for p in padding)
    else:
        raise TypeError(
            f"{fn}: padding must be a string, an int or (low, high) pairs, "
            f"got {type(padding).__name__} {padding!r}"
        )
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        raise ValueError(f"{fn}: padding must be non-negative, got {padding!r}")
    return pads


def _pair(p, fn: str, whole) -> tuple[int, int]:
    """One axis's entry: an int (symmetric) or a (low, high) pair of ints."""
    if is_int(p):
        return (int(p), int(p))
    if isinstance(p, Sequence) and not isinstance(p, str) and len(p) == 2:
        if all(is_int(v) for v in p):
            return (int(p[0]), int(p[1]))
        raise TypeError(f"{fn}: padding must contain ints, got {whole!r}")
    if isinstance(p, float):
        raise TypeError(f"{fn}: padding must contain ints, got {whole!r}")
    raise ValueError(
        f"{fn}: padding must have an int or a (low, high) pair per spatial axis, got {whole!r}"
    )
