"""Result files every experiment writes: JSON, JSON lines, markdown tables, curve plots."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import subprocess
import tomllib
from pathlib import Path

from jaxcnn import _durable, _extras
from jaxcnn._figure import new_figure, save_figure
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


@functools.cache
def code_version() -> str:
    """The git commit of this checkout (with "+dirty" for local changes), or "unknown".

    Read once per process, at the first call (every run decorated by
    `jaxcnn.train.lock.locks_workdir` makes it when it starts): a result names the code the
    process started with, not a commit made while it ran.

    A commit is recorded only when jaxcnn itself runs from a git checkout of this project (the
    folder above the package holds jaxcnn's pyproject.toml and is the repository's root); an
    installed wheel, even inside some other repository (a user's project with its .venv), gives
    "unknown" instead of that repository's commit.
    """
    return _commit_of(Path(__file__).resolve().parents[2])


def _commit_of(root: Path) -> str:
    """The commit (+dirty) of the git checkout of jaxcnn whose root is ``root``, else "unknown"."""
    if not _is_jaxcnn_checkout(root):
        return "unknown"
    try:
        top = _git(root, "rev-parse", "--show-toplevel")
        commit = _git(root, "rev-parse", "HEAD")
        if top is None or commit is None or Path(top).resolve() != root.resolve():
            return "unknown"
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance() -> dict:
    """What produced a result, for every ``results.json``.

    Returns:
      ``{"jaxcnn", "python", "jax", "jaxlib", "flax", "optax", "numpy"`` (version strings, None
      for one not installed), ``"backend"`` (``jax.default_backend()``: cpu, gpu, tpu),
      ``"device_kinds"`` (sorted distinct ``device_kind`` of ``jax.devices()``),
      ``"device_count"``, ``"git_commit"`` (``code_version()`` when running from a git checkout
      of this project, else None)``}``.
    """
    import jax

    import jaxcnn

    devices = jax.devices()
    commit = code_version()
    return {
        "jaxcnn": jaxcnn.__version__,
        "python": platform.python_version(),
        **{name: _version(name) for name in ("jax", "jaxlib", "flax", "optax", "numpy")},
        "backend": jax.default_backend(),
        "device_kinds": sorted({d.device_kind for d in devices}),
        "device_count": len(devices),
        "git_commit": None if commit == "unknown" else commit,
    }


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _is_jaxcnn_checkout(root: Path) -> bool:
    try:
        with open(root / "pyproject.toml", "rb") as f:
            return tomllib.load(f).get("project", {}).get("name") == "jaxcnn"
    except (OSError, tomllib.TOMLDecodeError):
        return False


def _git(root: Path, *args: str) -> str | None:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    return done.stdout.strip() if done.returncode == 0 else None


def can_plot() -> bool:
    """Whether matplotlib is installed (the ``plots`` extra), so ``plot_curves`` can draw."""
    return _extras.available("matplotlib")


def plot_curves(history, path) -> None:
    """Learning curves (loss and accuracy per epoch, train and eval) as an image at ``path``.

    Written atomically (temp file + ``os.replace``); the format follows ``path``'s extension
    (``.png``, ``.svg``, ``.pdf``, ...); a name without one gets ``.png`` appended, as
    ``savefig`` does.
    """
    if not is_writer():  # many processes: process 0 draws it (processes.py)
        return
    epochs = [h["epoch"] for h in history]
    fig = new_figure((9, 3.5))
    axes = fig.subplots(1, 2)
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
    save_figure(fig, path, dpi=100)
