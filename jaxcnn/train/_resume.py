"""What `fit` writes when a resumed run had nothing left to train.

Such a run measures nothing (no example trained, nothing compiled): its results keep the
throughput and compile time the run that trained measured (from the workdir's earlier
``results.json``), or NaN (written as null with the reason) when that file is gone, instead
of 0.0, which the tables printed as "0 ex/s". ``metrics.jsonl`` is rewritten from the
checkpoint's history either way, so a run killed between its last checkpoint and its metrics
write ends with both in line.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

from jaxcnn import _durable
from jaxcnn.train import results as results_io


def settle(result, workdir: str | os.PathLike | None):
    """``result`` (a `FitResult`) with the earlier speed figures when nothing was trained.

    Writes ``<workdir>/metrics.jsonl`` from ``result.history`` when ``workdir`` is given.
    """
    if workdir is None:
        return result
    workdir = Path(workdir)
    results_io.write_jsonl(workdir / "metrics.jsonl", result.history)  # process 0 writes
    if result.compiles:
        return result
    earlier = {}
    try:
        earlier = _durable.read_json(workdir / "results.json")
    except (OSError, ValueError):
        pass  # gone or unreadable: the figures are unknown, not zero

    def figure(key: str) -> float:
        v = earlier.get(key) if isinstance(earlier, dict) else None
        return float(v) if isinstance(v, int | float) and math.isfinite(v) else math.nan

    return dataclasses.replace(
        result,
        throughput=figure("throughput_examples_per_s"),
        compile_seconds=figure("compile_seconds"),
    )
