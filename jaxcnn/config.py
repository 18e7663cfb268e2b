"""User-settable library defaults, each scoped with a ``with`` block.

Two settings, both about how convolutions run on the **CPU** (on GPU and TPU every convolution is
one ``lax.conv_general_dilated``, whatever is set here):

* :func:`lowering`: force one CPU lowering (``"lax"``, ``"patches"``, ``"rows"``, ``"lanes"``)
  instead of ``"auto"``, which picks one per convolution shape (see :mod:`jaxcnn._cpu`).
* :func:`autotune`: whether ``"auto"`` measures the candidate lowerings on this machine (and
  caches the choice on disk), or uses the deterministic fallback rule. Unset, the environment
  variable ``JAXCNN_AUTOTUNE`` decides (``0`` turns measuring off; anything else, or unset,
  leaves it on).

Both live in :class:`contextvars.ContextVar` objects, so a change is scoped
(``with jaxcnn.config.lowering("lax"): ...``), thread-safe, and never made inside the math. They
are read at trace time: a function already traced by ``jax.jit`` keeps the lowering it was
traced with (``jax.jit`` caches its trace; call ``.clear_cache()`` or trace a new function).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator

#: Lowerings a CPU convolution accepts: ``"auto"`` chooses per shape (by measurement, or by
#: the fallback rule); the others force one.
SUPPORTED_LOWERINGS: tuple[str, ...] = ("auto", "lax", "patches", "rows", "lanes")

#: The environment variable read when :func:`autotune` is not set: ``"0"`` turns measuring off.
AUTOTUNE_ENV = "JAXCNN_AUTOTUNE"

_LOWERING: contextvars.ContextVar[str] = contextvars.ContextVar("jaxcnn_lowering", default="auto")
_AUTOTUNE: contextvars.ContextVar[bool | None] = contextvars.ContextVar(
    "jaxcnn_autotune", default=None
)


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
        raise ValueError(f"{fn}: lowering must be one of {list(SUPPORTED_LOWERINGS)}, got {name!r}")
    return name


def default_lowering() -> str:
    """The CPU lowering convolutions use now.

    Returns:
      A name from :data:`SUPPORTED_LOWERINGS` (``"auto"`` unless changed by :func:`lowering`).
    """
    return _LOWERING.get()


@contextlib.contextmanager
def lowering(name: str) -> Iterator[str]:
    """Force the CPU convolution lowering ``name`` inside a ``with`` block.

    A forced lowering that cannot take a convolution's arguments (``"rows"`` on a 1-D one,
    ``"lanes"`` with many channels, either with ``groups > 1``) makes that convolution raise a
    ``ValueError`` when it is traced.

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


def autotune_enabled() -> bool:
    """Whether ``"auto"`` measures lowerings now (else it uses the fallback rule).

    Returns:
      The value set by :func:`autotune` if inside one, else ``False`` when the environment
      variable ``JAXCNN_AUTOTUNE`` is ``"0"`` and ``True`` otherwise (read at each call).
    """
    value = _AUTOTUNE.get()
    if value is not None:
        return value
    return os.environ.get(AUTOTUNE_ENV, "1").strip() != "0"


@contextlib.contextmanager
def autotune(enabled: bool) -> Iterator[bool]:
    """Turn the CPU lowering tuner on or off inside a ``with`` block.

    Off, ``"auto"`` is deterministic: it uses the documented fallback rule
    (:func:`jaxcnn._cpu.rule.fallback_lowering`) and never times anything or touches the disk.

    Args:
      enabled: ``True`` to measure (and use the on-disk cache), ``False`` for the rule.

    Yields:
      ``enabled``.

    Raises:
      TypeError: ``enabled`` is not a bool.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"autotune: enabled must be a bool, got {type(enabled).__name__}")
    token = _AUTOTUNE.set(enabled)
    try:
        yield enabled
    finally:
        _AUTOTUNE.reset(token)
