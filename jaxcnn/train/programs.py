"""Training programs kept across `fit` calls in one process, under a key of what shapes them.

`fit` builds its training call (`step.make_train_chunk`) from closures (the optax transform, the
loss, the model's apply); a new closure is a new function to ``jax.jit``, so every `fit`
compiled its training program again, even for the same model and config (a sweep over seeds,
a resumed run in the same process, a test suite). When everything the program closes over is
known from hashable values, the jitted function is kept here under them (`train_program_key`)
and reused; jax's own cache of that jitted function then keys what remains (shapes, dtypes,
shardings, jax's configuration), so a repeat compiles nothing and runs the same executable.

A run whose program cannot be keyed compiles as before: a caller's optax transform (its
functions are closures that cannot be compared), an optax schedule as ``learning_rate``, or an
NNX module (its graph is captured when it is adapted, and the module may change in between).
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Callable, Hashable
from typing import Any

import jax

# Config fields that never reach the compiled training step: ``epochs`` only through the
# schedule's total steps (keyed by `train_program_key` when the schedule decays), ``seed`` only
# through the state's key and the host-side example order; the rest are evaluation, display and
# checkpoint settings. Every other field (any added later included) is part of the key.
NOT_IN_PROGRAM = ("epochs", "seed", "progress", "keep_last", "eval_batch_size", "num_classes")

MAX_PROGRAMS = 16  # each holds an executable: bounded like `loop._eval_program`'s cache

_programs: collections.OrderedDict[Hashable, jax.stages.Wrapped] = collections.OrderedDict()
_variants: dict[Hashable, str] = {}  # the XLA option set each keyed program compiles with
_lock = threading.Lock()


def train_program_key(
    *,
    model: Any,
    config: Any,
    total_steps: int,
    params: Any,
    custom_optimizer: bool,
    parts: tuple,
) -> tuple | None:
    """The key of a training program built from the config's optimiser, or None (no reuse).

    Args:
      model: the `adapters.Adapted` model (hashed by value for Linen, by identity otherwise).
      config: the `TrainConfig`; every field but `NOT_IN_PROGRAM` is keyed.
      total_steps: the run's steps; keyed only for a decaying schedule (the only use).
      params: the initial parameters; their tree structure and ranks are keyed, because the
        optimiser's weight-decay mask and frozen labels are built from them.
      custom_optimizer: True when the caller passed ``optimizer=`` (no key then).
      parts: the other hashable inputs of the program (the data's ``take``, the mesh, the
        caller's loss or None, the metrics, the padding flag, the input shardings).

    Returns:
      a hashable tuple, or None when the program cannot be keyed safely.
    """
    if custom_optimizer or callable(config.learning_rate) or model.kind == "nnx":
        return None
    fields = tuple(
        (f.name, type(v).__name__, v)
        for f in dataclasses.fields(config)
        if f.name not in NOT_IN_PROGRAM
        for v in (getattr(config, f.name),)
    )
    schedule_steps = None if config.schedule == "constant" else total_steps
    leaves, treedef = jax.tree.flatten(params)
    ranks = tuple(getattr(a, "ndim", None) for a in leaves)
    key = (model, fields, schedule_steps, treedef, ranks, parts)
    try:
        hash(key)
    except TypeError:  # an unhashable take, loss or metric: nothing to key it by
        return None
    return key


def jitted(key: Hashable | None, build: Callable[[], jax.stages.Wrapped]) -> jax.stages.Wrapped:
    """The jitted training program under ``key``, built by ``build()`` on a miss (or no key)."""
    if key is None:
        return build()
    with _lock:
        if key in _programs:
            _programs.move_to_end(key)
            return _programs[key]
    program = build()
    with _lock:
        _programs[key] = program
        while len(_programs) > MAX_PROGRAMS:
            _programs.popitem(last=False)
    return program


def variant(key: Hashable | None, choose: Callable[[], str]) -> str:
    """The XLA option set chosen for the program under ``key``, ``choose()`` on a miss."""
    if key is None:
        return choose()
    with _lock:
        if key in _variants:
            return _variants[key]
    chosen = choose()
    with _lock:
        _variants[key] = chosen
        while len(_variants) > MAX_PROGRAMS:
            _variants.pop(next(iter(_variants)))
    return chosen


def clear() -> None:
    """Forget every kept program (a later `fit` compiles as in a fresh process)."""
    with _lock:
        _programs.clear()
        _variants.clear()
