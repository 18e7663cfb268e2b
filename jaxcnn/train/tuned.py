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

    def trace():
        return jax.jit(_fresh(fun), **jit_kwargs).trace(*args)

    variant = xla_options.choose(trace)
    options = {**xla_options.options(variant), **own}
    with xla_options.compiled_with(variant):
        jitted = jax.jit(_fresh(fun), compiler_options=options or None, **jit_kwargs)
        lowered = jitted.lower(*args)
    return lowered.compile()


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
    """``jax.jit(fun, **jit_kwargs)`` compiled, per argument signature, with the XLA option
    set its convolutions favour (see :func:`jit_tuned`)."""

    MAX_SIGNATURES = 64  # variants remembered (the jitted functions cache their own programs)

    def __init__(self, fun: Callable, jit_kwargs: dict[str, Any]):
        self._fun = fun
        self._jit_kwargs = jit_kwargs
        self._jitted: dict[str, Callable] = {}  # one per variant (`jit_for_variant`)
        self._variants: collections.OrderedDict[Hashable, str] = collections.OrderedDict()
        self._lock = threading.Lock()
        functools.update_wrapper(self, fun)

    def __call__(self, *args: Any) -> Any:
        variant = self._variant(args)
        with self._lock:
            jitted = self._jitted.get(variant)
            if jitted is None:
                jitted = jit_for_variant(self._fun, variant, **self._jit_kwargs)
                self._jitted[variant] = jitted
        return jitted(*args)

    def _variant(self, args: tuple) -> str:
        leaves, treedef = jax.tree.flatten(args)
        kinds = tuple((np.shape(a), str(getattr(a, "dtype", type(a)))) for a in leaves)
        signature = (treedef, kinds)
        with self._lock:
            if signature in self._variants:
                return self._variants[signature]
        variant = xla_options.choose(lambda: jax.eval_shape(_fresh(self._fun), *args))
        with self._lock:
            self._variants[signature] = variant
            while len(self._variants) > self.MAX_SIGNATURES:
                self._variants.popitem(last=False)
        return variant


def jit_tuned(fun: Callable, **jit_kwargs: Any) -> Callable:
    """``jax.jit(fun, **jit_kwargs)``, compiled with the XLA CPU options its convolutions favour.

    The just-in-time counterpart of :func:`compile_tuned`: on the first call with a new set of
    argument shapes and dtypes, ``fun`` is traced once more to time its convolutions under each
    option set (cached on disk per machine), and the call runs the program compiled with the
    fastest set; later calls with those shapes reuse it. Where nothing can be measured (another
    backend, the tuner off, a forced lowering) every call is ``jax.jit(fun)``'s.

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
