"""Compile your own jitted function as `fit` compiles its step: XLA CPU options chosen for it.

XLA's CPU compiler can run convolutions with two kernel libraries, and which is faster depends
on the CPU and the shapes (`jaxcnn._cpu.xla_options`). The choice is a compiler option of the
whole program, so only the code that calls ``jax.jit`` can make it. `fit` makes it for its
training step; :func:`compile_tuned` makes it for a function of yours (a training step, an
evaluation pass), ahead of time, like ``jax.jit(fun).lower(*args).compile()``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax

from jaxcnn._cpu import xla_options


def compile_tuned(fun: Callable, *args: Any, **jit_kwargs: Any) -> jax.stages.Compiled:
    """``jax.jit(fun, **jit_kwargs).lower(*args).compile()``, tuned for this CPU.

    On the CPU with the lowering tuner on (``jaxcnn.config.autotune``, the default), ``fun``
    is traced once more to time each of its convolutions under each XLA option set (cached on
    disk per machine, as the lowerings are); it is compiled with the set under which they take
    the least time in all, and its lowerings are the fastest for that set. Elsewhere (another
    backend, the tuner off, a forced lowering, no convolution) this is exactly the plain
    ahead-of-time compile.

    Args:
      fun: the function to compile; pure, as for ``jax.jit``.
      *args: example arguments (arrays or ``jax.ShapeDtypeStruct``): the compiled function
        takes arguments of these shapes, dtypes and shardings.
      **jit_kwargs: passed to ``jax.jit`` (``donate_argnums``, ``static_argnums`` ...;
        ``compiler_options`` given here are merged over the chosen ones).

    Returns:
      The compiled function (``jax.stages.Compiled``): call it with arguments like ``args``
      (static arguments left out, as for any ``Compiled``).

    Raises:
      TypeError: ``fun`` is not callable (named, before anything is traced).
      Whatever ``jax.jit`` raises for ``fun`` and ``args`` (a trace error, an unhashable
      static argument), unchanged.
    """
    if not callable(fun):
        raise TypeError(f"compile_tuned: fun must be callable, got {type(fun).__name__}")
    own = dict(jit_kwargs.pop("compiler_options", None) or {})

    def fresh() -> Callable:
        # jax reuses its trace of a function object it has seen, whatever the compiler
        # options, and the lowerings in that trace were tuned for the options of its time.
        return functools.wraps(fun)(lambda *a: fun(*a))

    def trace():
        return jax.jit(fresh(), **jit_kwargs).trace(*args)

    variant = xla_options.choose(trace)
    options = {**xla_options.options(variant), **own}
    with xla_options.compiled_with(variant):
        lowered = jax.jit(fresh(), compiler_options=options or None, **jit_kwargs).lower(*args)
    return lowered.compile()
