"""Result files every experiment writes: JSON, JSON lines, markdown tables, curve plots."""

from __future__ import annotations

import subprocess
from pathlib import Path

from jaxcnn import _durable
from jaxcnn._figure import save_figure
from jaxcnn.train.processes import is_writer


def write_json(path, obj) -> None:
    """Write ``obj`` as indented strict JSON durably (`jaxcnn._durable.write_json`).

    Like every writer here, only process 0 writes under ``jax.distributed`` (`is_writer`).
    """
    if is_writer():
        _durable.write_json(path, obj)


def write_jsonl(path, rows) -> None:
    """Write one strict JSON object per line durably (the whole file is replaced)."""
    if is_writer():
        _durable.write_jsonl(path, rows)


def write_text(path, text: str) -> None:
    """Write ``text`` durably (`jaxcnn._durable.write_text`)."""
    if is_writer():
        _durable.write_text(path, text)


def markdown_table(rows, columns) -> str:
    """A GitHub markdown table of ``rows`` (dicts) with the given ``columns`` in order.

    Floats print with 4 significant digits; a missing key prints as empty.
    """

    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def code_version() -> str:
    """The git commit of this checkout (with "+dirty" for local changes), or "unknown"."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def plot_curves(history, path) -> None:
    """Learning curves (loss and accuracy per epoch, train and eval) as an image at ``path``.

    Written atomically (temp file + ``os.replace``); the format follows ``path``'s extension
    (``.png``, ``.svg``, ``.pdf``, ...); a name without one gets ``.png`` appended, as
    ``savefig`` does.
    """
    if not is_writer():  # many processes: process 0 draws it (processes.py)
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for split in ("train", "eval"):
            values = [h.get(f"{split}_{metric}") for h in history]
            if any(v is not None for v in values):
                ax.plot(epochs, values, marker="o", label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        save_figure(fig, path, dpi=100)
    finally:
        plt.close(fig)
