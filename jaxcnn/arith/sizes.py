"""Output sizes of convolution, transposed convolution and pooling, in closed form.

The notes' formula ``w_out = (w_in - w_k + 2p) / s + 1`` (stride ``s``, padding ``p``) with the
floor taken and dilation ``d`` added: ``w_out = floor((w_in + p_low + p_high - d (k - 1) - 1)
/ s) + 1``. For ``d = 1`` and ``p_low = p_high = p`` this is the notes' formula exactly. Pure
Python ints; no JAX.
"""

from __future__ import annotations

from collections.abc import Sequence

from jaxcnn._checks import is_int, ntuple, positive_ints

PADDINGS = ("VALID", "SAME", "FULL", "CAUSAL")


def conv_output_size(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: str | int | Sequence[int] = 0,
    dilation: int = 1,
) -> int:
    """Length of one spatial axis after a convolution.

    Args:
      size: input length ``w_in`` (>= 1).
      kernel: kernel length ``w_k`` (>= 1).
      stride: ``s`` (>= 1).
      padding: an int ``p`` (both sides), a pair ``(low, high)``, or ``"VALID"`` (0),
        ``"SAME"`` (output ``ceil(size / stride)``, as ``jax.lax``), ``"FULL"``
        (``d (k - 1)`` both sides), ``"CAUSAL"`` (``d (k - 1)`` on the low side).
      dilation: ``d`` (>= 1).

    Returns:
      ``(size + low + high - dilation * (kernel - 1) - 1) // stride + 1``.

    Raises:
      TypeError: a non-int size, kernel, stride, dilation or pad.
      ValueError: a non-positive size / kernel / stride / dilation, a negative pad, an
        unknown padding string, or a dilated kernel longer than the padded input.
    """
    fn = "conv_output_size"
    size, kernel, stride, dilation = positive_ints(
        fn, size=size, kernel=kernel, stride=stride, dilation=dilation
    )
    low, high = resolve_padding(padding, size, kernel, stride, dilation, fn)
    span = dilation * (kernel - 1) + 1
    if span > size + low + high:
        raise ValueError(
            f"{fn}: kernel must fit in the padded input, got window {span} (kernel {kernel}, "
            f"dilation {dilation}) > padded size {size + low + high} (size {size}, "
            f"padding {(low, high)})"
        )
    return (size + low + high - span) // stride + 1


def pool_output_size(
    size: int, window: int, stride: int | None = None, padding: str | int | Sequence[int] = 0
) -> int:
    """Length of one spatial axis after a max / average pool (the conv formula, ``d = 1``).

    Args:
      size: input length; window: pool window; stride: ``None`` means ``window``;
      padding: an int, ``(low, high)``, ``"VALID"`` or ``"SAME"``; each side at most
        ``window // 2`` (PyTorch's rule, enforced by :mod:`jaxcnn.functional.pool` too).

    Returns:
      ``(size + low + high - window) // stride + 1``.

    Raises:
      TypeError / ValueError: as :func:`conv_output_size`, and a pad above ``window // 2``.
    """
    fn = "pool_output_size"
    (window,) = positive_ints(fn, window=window)
    stride = window if stride is None else stride
    size, stride = positive_ints(fn, size=size, stride=stride)
    if isinstance(padding, str) and padding.upper() not in ("VALID", "SAME"):
        raise ValueError(
            f"{fn}: padding must be 'VALID', 'SAME', an int or (low, high), got {padding!r}"
        )
    low, high = resolve_padding(padding, size, window, stride, 1, fn)
    if max(low, high) > window // 2:
        raise ValueError(
            f"{fn}: padding must be at most half the window ({window} // 2 = "
            f"{window // 2}), got {(low, high)}"
        )
    return conv_output_size(size, window, stride, (low, high))


def conv_transpose_output_size(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Length of one spatial axis after a transposed convolution (PyTorch's formula).

    Args:
      size: input length; kernel, stride, dilation: positive ints; padding: the conv's
        symmetric pad (>= 0); output_padding: ``0 <= output_padding < max(stride, dilation)``.

    Returns:
      ``(size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``,
      the largest input length the matching conv maps to ``size`` when ``output_padding`` is
      ``(w + 2p - d(k-1) - 1) mod stride``.

    Raises:
      TypeError: a non-int argument. ValueError: out-of-range arguments or a size < 1.
    """
    fn = "conv_transpose_output_size"
    size, kernel, stride, dilation = positive_ints(
        fn, size=size, kernel=kernel, stride=stride, dilation=dilation
    )
    for name, v in (("padding", padding), ("output_padding", output_padding)):
        if not is_int(v):
            raise TypeError(f"{fn}: {name} must be an int, got {type(v).__name__} {v!r}")
        if v < 0:
            raise ValueError(f"{fn}: {name} must be non-negative, got {v}")
    if output_padding >= max(stride, dilation):
        raise ValueError(
            f"{fn}: output_padding must be smaller than max(stride, dilation) = "
            f"{max(stride, dilation)}, got {output_padding}"
        )
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"{fn}: output size must be positive, got {out} (padding {padding})")
    return out


def conv_output_shape(
    sizes: Sequence[int],
    kernel: Sequence[int] | int,
    stride: Sequence[int] | int = 1,
    padding: str | int | Sequence[int | Sequence[int]] = 0,
    dilation: Sequence[int] | int = 1,
) -> tuple[int, ...]:
    """:func:`conv_output_size` on every spatial axis.

    Args:
      sizes: spatial sizes, e.g. ``(H, W)``; kernel, stride, dilation: an int or one per axis;
      padding: a string, an int, or one int / ``(low, high)`` per axis.

    Returns:
      A tuple of output sizes.

    Raises:
      TypeError: ``sizes`` not a sequence, or a per-axis argument that is neither an int (a
        string or a sequence, for padding) nor a sequence of them (a float, ``None``, a bool).
      ValueError: a per-axis argument of the wrong length; as :func:`conv_output_size`.
    """
    fn = "conv_output_shape"
    if not isinstance(sizes, Sequence) or isinstance(sizes, str):
        raise TypeError(
            f"{fn}: sizes must be a sequence of ints, got {type(sizes).__name__} {sizes!r}"
        )
    n = len(sizes)
    per = [
        ntuple(v, n, fn, name)
        for name, v in (("kernel", kernel), ("stride", stride), ("dilation", dilation))
    ]
    pads = _per_axis_padding(padding, n, fn)
    return tuple(
        conv_output_size(s, k, st, p, d) for s, k, st, d, p in zip(sizes, *per, pads, strict=True)
    )


def resolve_padding(
    padding: str | int | Sequence[int], size: int, kernel: int, stride: int, dilation: int, fn: str
) -> tuple[int, int]:
    """``padding`` as an explicit ``(low, high)`` pair of non-negative ints for one axis.

    Args: as :func:`conv_output_size`; ``fn`` names the caller in messages.

    Returns:
      ``(low, high)``.

    Raises:
      TypeError: a non-int pad. ValueError: an unknown string or a negative pad.
    """
    span = dilation * (kernel - 1) + 1
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return (0, 0)
        if mode == "FULL":
            return (span - 1, span - 1)
        if mode == "CAUSAL":
            return (span - 1, 0)
        if mode == "SAME":
            out = -(-size // stride)
            total = max((out - 1) * stride + span - size, 0)
            return (total // 2, total - total // 2)
        raise ValueError(
            f"{fn}: padding must be one of {list(PADDINGS)}, an int or (low, high), got {padding!r}"
        )
    if is_int(padding):
        pair = (int(padding), int(padding))
    elif isinstance(padding, Sequence) and len(padding) == 2 and all(is_int(p) for p in padding):
        pair = (int(padding[0]), int(padding[1]))
    else:
        raise TypeError(
            f"{fn}: padding must be a string, an int or (low, high) ints, "
            f"got {type(padding).__name__} {padding!r}"
        )
    if min(pair) < 0:
        raise ValueError(f"{fn}: padding must be non-negative, got {padding!r}")
    return pair


def _per_axis_padding(padding: object, n: int, fn: str) -> list:
    """One padding entry per axis (each checked later by :func:`resolve_padding`)."""
    if isinstance(padding, str) or is_int(padding):
        return [padding] * n
    if not isinstance(padding, Sequence):
        raise TypeError(
            f"{fn}: padding must be a string, an int, or one int or (low, high) pair per axis, "
            f"got {type(padding).__name__} {padding!r}"
        )
    if len(padding) != n:
        raise ValueError(f"{fn}: padding must be an int or {n} values, got {padding!r}")
    return list(padding)
