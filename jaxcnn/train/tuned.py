"""Compile your own jitted function as `fit` compiles its step: XLA CPU options chosen for it.

XLA's CPU compiler can run convolutions with two kernel libraries, and which is faster depends
on the CPU and the shapes (`jaxcnn._cpu.xla_options`). The choice is a compiler option of the
whole program, so only the code that calls ``jax.jit`` can make it. `fit` makes it for its
training step; :func:`compile_tuned` makes it for a function of yours (a training step, an
evaluation pass), ahead of time, like ``jax.jit(fun).lower(*args).compile()``.
:func:`jit_tuned` is the just-in-time form: the choice is made on the first call with each set of
argument shapes.
"""

from __future__ import annotations

import collections
import functools
import threading
from collections.abc import Callable, Hashable
from typing import Any

import jax
import numpy as np

from jaxcnn._cpu import heaps, xla_options


def compile_tuned(fun: Callable, *args: Any, **jit_kwargs: Any) -> jax.stages.Compiled:
    """``jax.jit(fun, **jit_kwargs).lower(*args).compile()``, tuned for this CPU.

    On the CPU with the lowering tuner on (``jaxcnn.config.autotune``, the default), ``fun``
    is traced once more to time each of its convolutions under each XLA option set (cached on
    disk per machine, as the lowerings are); it is compiled with the set under which they take
    the least time in all, and its lowerings are the fastest for that set. On the CPU with
    glibc, its temporaries are also packed in blocks the C library reuses from call to call
    instead of mapping fresh pages each time (`jaxcnn._cpu.heaps`: a fifth of a LeNet step).
    On another backend this is exactly the plain ahead-of-time compile.

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

    def trace():
        return jax.jit(_fresh(fun), **jit_kwargs).trace(*args)

    variant = xla_options.choose(trace)
    with xla_options.compiled_with(variant):
        traced = jax.jit(_fresh(fun), **jit_kwargs).trace(*args)
        lowered = traced.lower()
    options = {**xla_options.options(variant), **heaps.compiler_options(traced.jaxpr), **own}
    return lowered.compile(compiler_options=options or None)


def _fresh(fun: Callable) -> Callable:
    """A new function object calling ``fun``: jax reuses its trace of a function object it has
    seen, whatever the compiler options, and the lowerings in that trace were tuned for the
    options of its time."""
    return functools.wraps(fun)(lambda *a: fun(*a))


def jit_for_variant(fun: Callable, variant: str, **jit_kwargs: Any) -> Callable:
    """``jax.jit(fun, **jit_kwargs)`` compiled with XLA option set ``variant`` and traced inside
    ``xla_options.compiled_with(variant)``, so that its lowerings are tuned for those options.

    Raises:
      ValueError: ``variant`` is not a key of ``xla_options.VARIANTS``.
    """
    options = xla_options.options(variant) or None
    jitted = jax.jit(_fresh(fun), compiler_options=options, **jit_kwargs)

    @functools.wraps(fun)
    def call(*args: Any) -> Any:
        with xla_options.compiled_with(variant):  # read only when a call traces
            return jitted(*args)

    return call


class _TunedJit:
    """``fun`` compiled per argument signature by :func:`compile_tuned` (see :func:`jit_tuned`)."""

    MAX_PROGRAMS = 64  # executables kept, least recently used dropped first

    def __init__(self, fun: Callable, jit_kwargs: dict[str, Any]):
        self._fun = fun
        self._jit_kwargs = jit_kwargs
        self._compiled: collections.OrderedDict[Hashable, jax.stages.Compiled] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()
        functools.update_wrapper(self, fun)

    def __call__(self, *args: Any) -> Any:
        leaves, treedef = jax.tree.flatten(args)
        signature = (treedef, tuple(_kind(a) for a in leaves))
        with self._lock:
            compiled = self._compiled.get(signature)
            if compiled is not None:
                self._compiled.move_to_end(signature)
        if compiled is None:  # two threads may both compile it: the same program
            compiled = compile_tuned(self._fun, *args, **self._jit_kwargs)
            with self._lock:
                self._compiled[signature] = compiled
                while len(self._compiled) > self.MAX_PROGRAMS:
                    self._compiled.popitem(last=False)
        return compiled(*args)


def _kind(leaf: Any) -> tuple:
    """What a compiled program fixes about an argument: shape, dtype and weak type."""
    dtype = getattr(leaf, "dtype", None)
    return np.shape(leaf), str(dtype or type(leaf)), bool(getattr(leaf, "weak_type", False))


def jit_tuned(fun: Callable, **jit_kwargs: Any) -> Callable:
    """``jax.jit(fun, **jit_kwargs)``, compiled with the XLA CPU options its convolutions favour.

    The just-in-time counterpart of :func:`compile_tuned`: on the first call with a new set of
    argument shapes and dtypes, ``fun`` is compiled by :func:`compile_tuned` (traced once more
    to time its convolutions under each option set, cached on disk per machine, and compiled
    with the fastest set); later calls with those shapes run that program (the 64 most
    recently used are kept). Where nothing can be measured (another backend, the tuner off, a
    forced lowering) the program is ``jax.jit(fun)``'s, with :func:`compile_tuned`'s grouping of
    temporaries on a glibc CPU.

    Args:
      fun: the function to jit; pure, every argument an array or a pytree of arrays (no
        static arguments).
      **jit_kwargs: passed to ``jax.jit`` (``out_shardings``, ``donate_argnums`` ...), except
        ``compiler_options``, which the choice sets.

    Returns:
      A callable with ``fun``'s signature.

    Raises:
      TypeError: ``fun`` is not callable, or ``compiler_options`` was passed.
    """
    if not callable(fun):
        raise TypeError(f"jit_tuned: fun must be callable, got {type(fun).__name__}")
    if "compiler_options" in jit_kwargs:
        raise TypeError("jit_tuned: compiler_options are chosen by measurement; use compile_tuned")
    return _TunedJit(fun, jit_kwargs)
