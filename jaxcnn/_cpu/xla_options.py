"""The XLA CPU compiler settings a program's convolutions are tuned for and compiled with.

XLA's CPU compiler hands a convolution to one of two kernel libraries: YNNPACK (its default
on recent jaxlibs) or its own emitter. Which is faster depends on the CPU and the shapes: on a
2-core AMD EPYC (Zen 4) LeNet's 32 -> 64 layer ran forward and both gradients in 162 ms under
YNNPACK and 95 ms without it, while other machines have favoured YNNPACK. The choice is a
compiler option of the whole program (``jax.jit(..., compiler_options=...)``), so it cannot be
made per convolution: it is made per program, by measurement, like the lowerings.

Each :data:`VARIANTS` entry names a set of compiler options. Inside
:func:`compiled_with` the tuner measures (and caches) each convolution's lowerings compiled
with that variant's options, so the lowerings chosen are the fastest *for the program as it
will be compiled*. :func:`choose` traces a function once under :func:`planning`, which also
times every convolution's best lowering under every variant, and returns the variant whose
convolutions take the least time in all.

A variant whose options the installed jaxlib does not accept (a renamed or removed flag) is
left out (:func:`supported`), so an upgrade never breaks a program: it runs with XLA's
defaults.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp

from jaxcnn import config

#: Named sets of XLA CPU compiler options; ``"default"`` is XLA's own settings. The flag is
#: a repeated enum whose default on jaxlib 0.10 is ``INDIVIDUAL_DOT`` plus
#: ``INDIVIDUAL_CONVOLUTION``: keeping only the first leaves matrix products on YNNPACK and
#: gives convolutions back to XLA's emitter.
VARIANTS: dict[str, dict[str, str | bool]] = {
    "default": {},
    "no_ynn_conv": {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"},
}

_VARIANT: contextvars.ContextVar[str] = contextvars.ContextVar("jaxcnn_xla", default="default")
_PLAN: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "jaxcnn_xla_plan", default=None
)


def current() -> str:
    """The variant the program being traced will be compiled with (``"default"`` unless set)."""
    return _VARIANT.get()


def check_variant(name: object, fn: str) -> str:
    """Return ``name`` if it is a key of :data:`VARIANTS`, else raise ``ValueError``."""
    if not isinstance(name, str) or name not in VARIANTS:
        raise ValueError(f"{fn}: variant must be one of {list(VARIANTS)}, got {name!r}")
    return name


@contextlib.contextmanager
def compiled_with(name: str) -> Iterator[str]:
    """Declare that what is traced inside will be compiled with variant ``name``'s options.

    Raises:
      ValueError: ``name`` is not a key of :data:`VARIANTS`.
    """
    token = _VARIANT.set(check_variant(name, "compiled_with"))
    try:
        yield name
    finally:
        _VARIANT.reset(token)


def options(name: str) -> dict[str, str | bool]:
    """The compiler options of variant ``name`` (a new dict, for ``jax.jit``)."""
    return dict(VARIANTS[check_variant(name, "options")])


def refusal(compiler_options: dict[str, str | bool]) -> Exception | None:
    """What the CPU compiler raises for a tiny convolution compiled with ``compiler_options``
    (a flag this jaxlib does not know, a value it cannot parse), or None if it accepts them."""
    x, k = jnp.ones((1, 4, 4, 1), jnp.float32), jnp.ones((2, 2, 1, 1), jnp.float32)

    def conv(x, k):
        dims = ("NHWC", "HWIO", "NHWC")
        return jax.lax.conv_general_dilated(x, k, (1, 1), "VALID", dimension_numbers=dims)

    try:
        with jax.ensure_compile_time_eval():
            args = jax.device_put((x, k), jax.devices("cpu")[0])
            jax.jit(conv).lower(*args).compile(compiler_options=compiler_options)
    except Exception as err:  # noqa: BLE001 - whatever the compiler raises is the answer
        return err
    return None


@functools.cache
def supported() -> tuple[str, ...]:
    """The variants whose options this jaxlib's CPU compiler accepts (``"default"`` always).

    Each is tried once per process (:func:`refusal`); a refused one warns and is left out.
    """
    ok = ["default"]
    for name, opts in VARIANTS.items():
        if name == "default":
            continue
        err = refusal(opts)
        if err is None:
            ok.append(name)
        else:
            warnings.warn(
                f"jaxcnn: XLA CPU option set {name!r} is not accepted by this jaxlib ({err}); "
                "convolutions compile with XLA's defaults",
                stacklevel=2,
            )
    return tuple(ok)


@contextlib.contextmanager
def planning() -> Iterator[dict[str, float]]:
    """Collect, per variant, the seconds of the convolutions traced inside (best lowerings).

    Yields:
      ``{variant: seconds}``, filled in as convolutions are traced (see :func:`add`).
    """
    totals: dict[str, float] = {}
    token = _PLAN.set(totals)
    try:
        yield totals
    finally:
        _PLAN.reset(token)


def planned() -> bool:
    """Whether a :func:`planning` block is collecting times now."""
    return _PLAN.get() is not None


def add(variant: str, seconds: float) -> None:
    """Add one convolution's best time under ``variant`` to the active plan (if any)."""
    totals = _PLAN.get()
    if totals is not None:
        totals[variant] = totals.get(variant, 0.0) + seconds


def measurable() -> bool:
    """Whether :func:`choose` measures now: ``"auto"`` lowerings with the tuner on, the CPU
    backend, one process (every process must compile the same program) and a jaxlib that
    accepts more than one variant."""
    return (
        config.autotune_enabled()
        and config.default_lowering() == "auto"
        and jax.default_backend() == "cpu"
        and jax.process_count() == 1
        and len(supported()) > 1
    )


def choose(trace: Callable[[], Any]) -> str:
    """The variant under which the convolutions of what ``trace()`` traces run fastest.

    Args:
      trace: traces the program once (e.g. ``lambda: jax.eval_shape(step, *args)``); every
        CPU convolution it meets is measured under every supported variant (cached on disk).
        It must trace afresh: jax reuses its trace of a function object it has traced.

    Returns:
      The variant with the least total time, ``"default"`` without tracing where nothing can
      be measured (:func:`measurable`), when no convolution was measured, or on a tie.
    """
    if not measurable():
        return "default"
    with planning() as totals:
        trace()
    if len(totals) < 2:  # the engine adds every supported variant per convolution, or none
        return "default"
    return min(totals, key=lambda v: (totals[v], v != "default"))
