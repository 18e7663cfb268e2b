"""Argument checks shared by every public function.

Each check raises ``TypeError`` or ``ValueError`` *before* XLA sees the input, with a message
of the form ``"{fn}: {arg} must be {wanted}, got {got}"`` so the caller learns which argument,
what it was and what was expected. Checks run on static shapes and Python values only, so they
cost nothing under ``jit``.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from typing import Any, TypeGuard

import numpy as np


# TypeGuard[int]: NumPy integers pass too; they convert with int() and index like ints.
def is_int(value: object) -> TypeGuard[int]:
    """True for Python and NumPy integers; False for bool, float and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: object) -> TypeGuard[float]:
    """True for Python and NumPy ints and floats (NaN and inf included); False for bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def ntuple(value: Any, n: int | None, fn: str, arg: str) -> tuple[int, ...]:
    """Canonicalise ``int | Sequence[int]`` to an ``n``-tuple of ints.

    ``n=None`` takes a sequence of any non-empty length, and an int as a 1-tuple.

    Raises:
      TypeError: ``value`` is neither an int nor a sequence (a float, ``None``, a str or a
        bool), or an element is not an int (a float such as ``2.0`` included).
      ValueError: a sequence of the wrong length (an empty one when ``n`` is ``None``).
    """
    wanted = "an int or a sequence of ints" if n is None else f"an int or {n} int{'s' * (n != 1)}"
    if is_int(value):
        return (int(value),) * (1 if n is None else n)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if n is None and not value:
            raise ValueError(
                f"{fn}: {arg} must be an int or a non-empty sequence of ints, got {tuple(value)!r}"
            )
        if n is not None and len(value) != n:
            raise ValueError(f"{fn}: {arg} must be {wanted}, got {tuple(value)!r}")
        for v in value:
            if not is_int(v):
                raise TypeError(
                    f"{fn}: {arg} must contain ints, got {type(v).__name__} {v!r} in {value!r}"
                )
        return tuple(int(v) for v in value)
    raise TypeError(f"{fn}: {arg} must be {wanted}, got {type(value).__name__} {value!r}")


def path(value: Any, fn: str, arg: str = "path") -> None:
    """``TypeError`` unless ``value`` is a ``str`` or an ``os.PathLike`` (None, an int, bytes)."""
    if not isinstance(value, str | os.PathLike):
        raise TypeError(
            f"{fn}: {arg} must be a str or os.PathLike, got {type(value).__name__} {value!r}"
        )


def positive_int(value: Any, fn: str, arg: str) -> int:
    """``value`` as an int >= 1, else ``TypeError`` (not an int) / ``ValueError`` (< 1)."""
    if not is_int(value):
        raise TypeError(f"{fn}: {arg} must be a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{fn}: {arg} must be a positive int, got {value!r}")
    return int(value)


def positive_ints(fn: str, **values: Any) -> tuple[int, ...]:
    """Check that each keyword value is an int >= 1; return them in order.

    Raises:
      TypeError: a value is not an int (a float or bool included).
      ValueError: a value is below 1.
    """
    return _ints_at_least(fn, 1, "positive", values)


def non_negative_ints(fn: str, **values: Any) -> tuple[int, ...]:
    """Check that each keyword value is an int >= 0; return them in order.

    Raises:
      TypeError: a value is not an int (a float or bool included).
      ValueError: a value is below 0.
    """
    return _ints_at_least(fn, 0, "non-negative", values)


def _ints_at_least(fn: str, minimum: int, wanted: str, values: dict[str, Any]) -> tuple[int, ...]:
    out = []
    for name, v in values.items():
        if not is_int(v):
            raise TypeError(f"{fn}: {name} must be an int, got {type(v).__name__} {v!r}")
        if v < minimum:
            raise ValueError(f"{fn}: {name} must be {wanted}, got {v}")
        out.append(int(v))
    return tuple(out)


def positive(values: tuple[int, ...], fn: str, arg: str) -> tuple[int, ...]:
    """Raise ``ValueError`` unless every element is >= 1."""
    if any(v < 1 for v in values):
        raise ValueError(f"{fn}: {arg} must be positive, got {values}")
    return values


def non_negative(values: tuple[int, ...], fn: str, arg: str) -> tuple[int, ...]:
    """Raise ``ValueError`` unless every element is >= 0."""
    if any(v < 0 for v in values):
        raise ValueError(f"{fn}: {arg} must be non-negative, got {values}")
    return values


def rank(x: Any, want: int, fn: str, arg: str, layout: str) -> tuple[int, ...]:
    """Check ``x.ndim == want``; ``layout`` names the axes, e.g. ``"(N, H, W, C)"``.

    Returns the shape. Raises ``TypeError`` for something that is not an array and
    ``ValueError`` for the wrong rank.
    """
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"{fn}: {arg} must be an array {layout}, got {type(x).__name__}")
    if len(shape) != want:
        raise ValueError(f"{fn}: {arg} must have rank {want} {layout}, got shape {tuple(shape)}")
    return tuple(shape)


def floating(x: Any, fn: str, arg: str) -> None:
    """Raise ``TypeError`` unless ``x`` has a floating dtype."""
    if not np.issubdtype(np.dtype(x.dtype), np.floating) and str(x.dtype) != "bfloat16":
        raise TypeError(f"{fn}: {arg} must have a floating dtype, got {x.dtype}")


def one_of(value: Any, choices: Sequence[str], fn: str, arg: str) -> str:
    """Raise ``ValueError`` unless ``value`` is one of ``choices`` (case-insensitive for str)."""
    key = value.upper() if isinstance(value, str) else value
    if key not in choices:
        raise ValueError(f"{fn}: {arg} must be one of {list(choices)}, got {value!r}")
    return key
