"""Provenance: a workdir's results must be those of the config that claims them.

A run in a workdir that already holds a run compares the two configs (plus how the optimiser
and the loss were given). Fields that change the trajectory must match; ``epochs`` may only
go up (the run continues, and results.json records it); fields that change nothing already
trained (`FREE`) may differ.
"""

from __future__ import annotations

from typing import Any

BUDGET = ("epochs",)
# Progress display, checkpoints kept and the evaluation batching/confusion size do not change
# the parameters a run reaches.
FREE = ("progress", "keep_last", "eval_batch_size", "num_classes")


class ProvenanceError(ValueError):
    """The workdir holds a run of another config; names every differing field."""


def compare(stored: dict, current: dict, where: str) -> dict[str, tuple[Any, Any]]:
    """The budget changes from ``stored`` to ``current`` (``{"epochs": (old, new)}`` or {}).

    Args:
      stored, current: JSON-able records (``TrainConfig.to_dict()`` plus ``fit.*`` entries).
      where: the workdir, for the message.

    Raises:
      ProvenanceError: any other field differs, or ``epochs`` went down; the message names
        each field with both values and says how to proceed.
    """
    diffs = []
    budget: dict[str, tuple[Any, Any]] = {}
    for name in sorted(set(stored) | set(current)):
        old, new = stored.get(name), current.get(name)
        if name in FREE or _same(old, new):
            continue
        if name in BUDGET and isinstance(old, int) and isinstance(new, int) and new > old:
            budget[name] = (old, new)
            continue
        diffs.append(f"{name}: {old!r} in the workdir, {new!r} now")
    if diffs:
        raise ProvenanceError(
            f"fit: workdir {where} holds a run of another config ({'; '.join(diffs)}); "
            "use another workdir, or pass overwrite=True (--overwrite) to start afresh "
            "(only raising epochs continues a run)"
        )
    return budget


def _same(a: Any, b: Any) -> bool:
    # JSON turns tuples into lists: compare them as lists.
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b
