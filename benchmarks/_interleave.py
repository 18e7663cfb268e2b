"""The order interleaved benchmarks run their contenders in."""

from __future__ import annotations

import time

#: Seconds to wait, untimed, after each contender's block before the next one starts.
SETTLE_S = 0.2


def rotated(items: list, r: int) -> list:
    """The running order of round ``r``: ``items`` rotated left by ``r // 2``, reversed in odd
    rounds.

    PyTorch's OpenMP threads keep spinning for a while after a step and slow whatever runs
    next. A plain rotation does not spread that: the cyclic order stays the same, so within
    every round the same contender follows PyTorch (with ``[jaxcnn, jaxcnn_loop, flax, torch]``
    it was ``jaxcnn`` in three rounds of four, never ``flax``: the MLP row's "per call" column
    lost to plain Flax with the two compiling to the same HLO). Reversing every other round
    gives PyTorch a different successor each time; :func:`settle` lets the threads go idle.
    """
    k = (r // 2) % len(items)
    order = items[k:] + items[:k]
    return order[::-1] if r % 2 else order


def settle() -> None:
    """Wait :data:`SETTLE_S` (untimed) so that the previous contender's threads are idle."""
    time.sleep(SETTLE_S)
