"""Worker processes ("spawn") for the bulk paths, with a clear error for a missing main guard.

"spawn" starts each worker as a fresh interpreter that re-imports the caller's ``__main__``
script. A script that calls :func:`audio.features.extract` or :func:`audio.corpus.build` at top
level (no ``if __name__ == "__main__":``) would start the work again inside every worker;
Python stops that with an error in the worker and the pool breaks. That is turned here into one
error that says what to do, instead of a ``BrokenProcessPool`` traceback.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

MAIN_GUARD_HINT = (
    "worker processes ('spawn') re-import your script: put the calling code under "
    '`if __name__ == "__main__":`, or pass workers=1 to run in this process'
)


def run(
    fn: Callable[..., Any],
    jobs: Sequence[tuple],
    workers: int,
    *,
    what: str,
    max_tasks_per_child: int | None = None,
) -> Iterator[Any]:
    """Yield ``fn(*job)`` for every job, in job order, from ``workers`` spawned processes.

    Raises:
      RuntimeError: the pool broke (a worker died); the message explains the main-guard rule.
    """
    ctx = multiprocessing.get_context("spawn")
    try:
        with concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=ctx, max_tasks_per_child=max_tasks_per_child
        ) as pool:
            futures = [pool.submit(fn, *job) for job in jobs]
            for future in futures:
                yield future.result()
    except concurrent.futures.process.BrokenProcessPool as e:
        raise RuntimeError(f"{what}: a worker process died ({e}); if this runs from a script, "
                           f"{MAIN_GUARD_HINT}") from e  # fmt: skip
