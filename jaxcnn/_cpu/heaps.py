"""How a CPU program's temporary buffers are grouped, so that the C library can reuse them.

XLA's CPU runtime allocates a program's temporaries afresh on every call, by default as one
block holding them all. glibc's ``malloc`` keeps and reuses freed blocks up to its largest
dynamic mmap threshold, ``DEFAULT_MMAP_THRESHOLD_MAX`` (32 MiB on 64-bit Linux); a larger
block is mapped from the kernel on every call and its pages are faulted in and zeroed on first
touch. A LeNet training step at batch 256 has 87 MiB of temporaries: on a 2-core AMD EPYC
(Zen 3) every call took ~22,000 page faults and ~74 ms of system time, a fifth of the step.
XLA's ``xla_multiheap_size_constraint_per_heap`` packs the temporaries into blocks of at most
a given size; under 32 MiB glibc reuses them after the first call (40 faults per call there).

This follows from the C library, not from the CPU: it is applied wherever the C library is
glibc, on the CPU backend, and nowhere else. The cap is raised to the program's largest single
value when that is larger: XLA gives such a value a block of its own anyway, and logs a warning
for each one under a smaller cap.
"""

from __future__ import annotations

import functools
import math
import platform
import warnings
from collections.abc import Iterator

import jax
import jax.extend.core as jex

from jaxcnn._cpu import xla_options

#: The option: the most bytes one block of a program's temporaries may hold.
OPTION = "xla_multiheap_size_constraint_per_heap"

#: Under glibc's ``DEFAULT_MMAP_THRESHOLD_MAX`` (32 MiB), with room for its chunk headers:
#: a freed block raises the dynamic threshold only if it is at most that size.
CAP_BYTES = 30 * 2**20


def _values(jaxpr: jex.Jaxpr) -> Iterator[jax.core.AbstractValue]:
    """The abstract values every equation of ``jaxpr`` and of its sub-jaxprs computes."""
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            yield var.aval
        for sub in jex.jaxprs_in_params(eqn.params):
            yield from _values(sub)


def largest_value_bytes(jaxpr: jex.ClosedJaxpr | jex.Jaxpr) -> int:
    """Bytes of the largest array any equation of ``jaxpr`` (or a nested one) computes.

    Values with symbolic dimensions or without a byte size (tokens, PRNG keys: small) are
    left out.
    """
    inner = jaxpr.jaxpr if isinstance(jaxpr, jex.ClosedJaxpr) else jaxpr
    largest = 0
    for aval in _values(inner):
        shape = getattr(aval, "shape", None)
        itemsize = getattr(getattr(aval, "dtype", None), "itemsize", None)
        if shape is None or not isinstance(itemsize, int):
            continue
        if all(isinstance(d, int) for d in shape):
            largest = max(largest, math.prod(shape) * itemsize)
    return largest


@functools.cache
def applies() -> bool:
    """Whether the cap is used: the C library is glibc and this jaxlib accepts the option.

    The option is tried once per process (`xla_options.refusal`); a jaxlib that refuses it
    warns and programs compile with XLA's defaults.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    err = xla_options.refusal({OPTION: str(CAP_BYTES)})
    if err is not None:
        warnings.warn(
            f"jaxcnn: this jaxlib does not accept XLA's {OPTION} ({err}); CPU programs "
            "allocate their temporaries as one block",
            stacklevel=2,
        )
    return err is None


def compiler_options(jaxpr: jex.ClosedJaxpr | jex.Jaxpr) -> dict[str, str]:
    """The XLA compiler options grouping the temporaries of the program ``jaxpr`` traces.

    Args:
      jaxpr: the program as traced (``jax.jit(f).trace(*args).jaxpr``).

    Returns:
      ``{OPTION: str(max(CAP_BYTES, largest value))}`` (XLA parses the number) when the
      default backend is the CPU and :func:`applies`, else ``{}``.
    """
    if jax.default_backend() != "cpu" or not applies():
        return {}
    return {OPTION: str(max(CAP_BYTES, largest_value_bytes(jaxpr)))}
