"""User-settable library defaults.

The only setting so far is the default convolution *lowering* (how ``conv1d`` / ``conv2d``
turn into XLA operations). It lives in a :class:`contextvars.ContextVar`, so changing it is
scoped (``with jaxcnn.config.lowering("lax"): ...``), thread-safe, and never mutated inside the
math: the functions read it once, at trace time, when their ``lowering`` argument is ``None``.

Because it is read at trace time, a function already compiled by ``jax.jit`` keeps the
lowering it was traced with; pass ``lowering=`` explicitly when that matters.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

#: Lowerings ``conv1d`` / ``conv2d`` accept: ``"auto"`` lets the library choose per backend and
#: shape (``jaxcnn.functional._lowering.choose_lowering``); the others force one.
SUPPORTED_LOWERINGS: tuple[str, ...] = ("auto", "lax", "patches", "rows", "lanes")

_LOWERING: contextvars.ContextVar[str] = contextvars.ContextVar("jaxcnn_lowering", default="auto")


def check_lowering(name: object, fn: str = "lowering") -> str:
    """Return ``name`` if it is a supported lowering.

    Args:
      name: a lowering name, one of :data:`SUPPORTED_LOWERINGS`.
      fn: the public function to name in the error message.

    Returns:
      ``name`` unchanged.

    Raises:
      ValueError: ``name`` is not one of :data:`SUPPORTED_LOWERINGS`.
    """
    if not isinstance(name, str) or name not in SUPPORTED_LOWERINGS:
        raise ValueError(
            f"{fn}: lowering must be one of {list(SUPPORTED_LOWERINGS)} or None, got {name!r}"
        )
    return name


def default_lowering() -> str:
    """The lowering used when a convolution is called with ``lowering=None``.

    Returns:
      A name from :data:`SUPPORTED_LOWERINGS` (``"auto"`` unless changed by :func:`lowering`).
    """
    return _LOWERING.get()


def lowering_or_default(name: str | None, fn: str) -> str:
    """The lowering a convolution called with ``lowering=name`` uses, checked.

    Args:
      name: ``None`` (the current default, :func:`default_lowering`) or a name from
        :data:`SUPPORTED_LOWERINGS`.
      fn: the public function to name in the error message.

    Returns:
      A name from :data:`SUPPORTED_LOWERINGS`.

    Raises:
      ValueError: ``name`` is neither ``None`` nor a supported lowering.
    """
    return check_lowering(default_lowering() if name is None else name, fn)


@contextlib.contextmanager
def lowering(name: str) -> Iterator[str]:
    """Use ``name`` as the default convolution lowering inside a ``with`` block.

    Args:
      name: one of :data:`SUPPORTED_LOWERINGS`.

    Yields:
      ``name``.

    Raises:
      ValueError: an unsupported name (checked on entry, before anything changes).
    """
    token = _LOWERING.set(check_lowering(name, "lowering"))
    try:
        yield name
    finally:
        _LOWERING.reset(token)
