"""Many processes (``jax.distributed.initialize``): who writes files and where they wait.

Every process runs the same `fit`; the compiled steps are collective. Files are written by
process 0 only (`is_writer`), and every process waits at a `barrier` after writes that another
process may read later (a checkpoint's manifest, results.json read back by the next `fit`).
A cache that every process needs (a corpus, extracted features) is built by process 0 first
(`writer_first`), the others then read it. With one process all three are no-ops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import jax

T = TypeVar("T")


def is_writer() -> bool:
    """True on the process that writes files: process 0 (the only one without distribution)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process reaches ``barrier(name)`` (a no-op with one process).

    ``name`` must be the same string on every process at the same point of the program.
    """
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(f"jaxcnn:{name}")


def writer_first(name: str, build: Callable[[], T]) -> T:
    """``build()`` on process 0, then, past a barrier, on every other process.

    For a step that builds a cache on disk and returns what it holds (a synthesised corpus,
    extracted features): process 0 builds and writes it while the others wait, then they run
    ``build()`` too and find it done, reading instead of writing. ``build`` must not run
    collectives (no `fit` inside: process 0 would run it alone). Should it raise on process 0,
    the others are still released (then they try it themselves) and process 0 re-raises.
    With one process: just ``build()``.
    """
    if not is_writer():
        barrier(name)
        return build()
    try:
        return build()
    finally:  # also when it raises: the others must not wait for ever
        barrier(name)
