"""The order interleaved benchmarks run their contenders in."""

from __future__ import annotations


def rotated(items: list, r: int) -> list:
    """``items`` rotated left by ``r`` (modulo its length): the running order of round ``r``.

    PyTorch's OpenMP threads keep spinning for a while after a step and slow whatever runs
    next; rotating the order each round spreads that over every contender instead of always
    charging the one after PyTorch.
    """
    k = r % len(items)
    return items[k:] + items[:k]
