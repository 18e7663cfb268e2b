"""Many processes (``jax.distributed.initialize``): who writes files and where they wait.

Every process runs the same `fit`; the compiled steps are collective. Files are written by
process 0 only (`is_writer`), and every process waits at a `barrier` after writes that another
process may read later (a checkpoint's manifest, results.json read back by the next `fit`).
With one process both are no-ops.
"""

from __future__ import annotations

import jax


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
