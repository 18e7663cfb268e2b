"""Count XLA compilations, by function name, while a block runs.

Bucketing promises "at most one compilation per bucket per function"; this makes the
promise measurable. It listens to JAX's own backend-compile event, so it counts what XLA
really compiled (cache hits of an already-compiled shape are not compilations).
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator

import jax

_EVENT = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def count_compiles() -> Iterator[collections.Counter[str]]:
    """Context manager yielding a ``collections.Counter``: function name -> compilations.

    Example::

        with count_compiles() as compiles:
            step(batch_16); step(batch_16); step(batch_32)
        compiles["step"] == 2
    """
    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def listener(event: str, duration_secs: float, **kwargs: str | int) -> None:
        if event == _EVENT:
            with lock:
                counts[str(kwargs.get("fun_name", "?"))] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield counts
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
