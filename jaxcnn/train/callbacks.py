"""Callbacks: what `fit` calls at call ends, epoch ends and the end of training.

The protocol is three optional methods (subclass `Callback` or write any object with them):

- ``on_call_end(ctx) -> bool | None``: after each compiled call (a chunk of steps);
- ``on_epoch_end(ctx) -> bool | None``: after each epoch's row was added to ``ctx.history``;
- ``on_fit_end(ctx) -> dict | None``: once, after training; a dict returned is the variables
  ``fit`` returns instead of the last ones (`BestCheckpoint` does that).

Returning True from ``on_call_end`` / ``on_epoch_end`` stops training after that point; the
checkpoint saved there records the stop, so the same command resumed finishes without
training further. Decisions should be pure functions of ``ctx.history`` (the built-ins are),
because the history is checkpointed and a resumed run must decide as the uninterrupted one.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxcnn.train import results as results_io
from jaxcnn.train.processes import is_writer


@dataclasses.dataclass
class FitContext:
    """What a callback sees.

    Attributes:
      config: the `TrainConfig`.
      workdir: the run's folder, or None.
      epoch: completed epochs (the row just added is ``history[epoch - 1]``).
      step: steps taken so far.
      history: one dict per completed epoch (``epoch``, ``step``, ``train_loss``, ...).
      state: the current `TrainState` (read it; do not keep references across calls: the
        next call donates its buffers).
      restore: ``restore(step) -> variables`` of the checkpoint saved at ``step``, or None
        without a workdir.
    """

    config: Any
    workdir: Path | None
    epoch: int
    step: int
    history: list
    state: Any
    restore: Callable[[int], dict] | None = None


class Callback:
    """Base class with no-op methods; override the ones you need."""

    def on_call_end(self, ctx: FitContext) -> bool | None:
        """After each compiled call; return True to stop training."""
        return None

    def on_epoch_end(self, ctx: FitContext) -> bool | None:
        """After each epoch (its row is ``ctx.history[-1]``); return True to stop training."""
        return None

    def on_fit_end(self, ctx: FitContext) -> dict | None:
        """After training; return variables to make `fit` return them instead."""
        return None


def _check_mode(mode: str, fn: str) -> str:
    if mode not in ("min", "max"):
        raise ValueError(f"{fn}: mode must be 'min' or 'max', got {mode!r}")
    return mode


def monitored(history: list, monitor: str, fn: str) -> list[float]:
    """The ``monitor`` column of ``history``.

    Raises:
      ValueError: a row lacks ``monitor`` (the message lists the columns there are).
    """
    values = []
    for row in history:
        if monitor not in row:
            raise ValueError(
                f"{fn}: monitor must be one of the history's columns {sorted(row)}, got {monitor!r}"
            )
        values.append(float(row[monitor]))
    return values


def best_index(values: list[float], mode: str, min_delta: float = 0.0) -> int:
    """Index of the best value (the first of equals); an improvement must beat by > min_delta."""
    best = 0
    for i, v in enumerate(values):
        if math.isnan(v):
            continue
        old = values[best]
        better = v < old - min_delta if mode == "min" else v > old + min_delta
        if math.isnan(old) or better:
            best = i
    return best


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Args:
      monitor: a history column, e.g. "eval_loss" or "eval_accuracy".
      patience: epochs without improvement tolerated (an int >= 1).
      mode: "min" (lower is better) or "max".
      min_delta: an improvement must beat the best by more than this.

    Raises:
      ValueError: bad ``patience`` or ``mode``; at the first epoch end, ``monitor`` is not a
        column of the history.
    """

    def __init__(
        self,
        monitor: str = "eval_loss",
        patience: int = 3,
        mode: str = "min",
        min_delta: float = 0.0,
    ):
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be an int >= 1, got {patience!r}")
        self.monitor, self.patience = monitor, patience
        self.mode, self.min_delta = _check_mode(mode, "EarlyStopping"), float(min_delta)

    def on_epoch_end(self, ctx: FitContext) -> bool:
        values = monitored(ctx.history, self.monitor, "EarlyStopping")
        return len(values) - 1 - best_index(values, self.mode, self.min_delta) >= self.patience


class BestCheckpoint(Callback):
    """Make `fit` return the variables of the epoch with the best ``monitor``.

    With a workdir the best epoch's checkpoint is kept by orbax (`fit` tells its
    `Checkpointer` which metric and mode rank the checkpoints) and restored at the end, so a
    resumed run returns the same variables; without one, a host copy of the best variables
    is kept in memory. ``FitResult.best_epoch`` names the epoch.

    Raises:
      ValueError: bad ``mode``; at the first epoch end, ``monitor`` is not a history column.
    """

    def __init__(self, monitor: str = "eval_accuracy", mode: str = "max"):
        self.monitor, self.mode = monitor, _check_mode(mode, "BestCheckpoint")
        self._kept: tuple[int, dict] | None = None

    def best_row(self, history: list) -> dict:
        """The best epoch's history row."""
        values = monitored(history, self.monitor, "BestCheckpoint")
        return history[best_index(values, self.mode)]

    def on_epoch_end(self, ctx: FitContext) -> None:
        if ctx.restore is None and self.best_row(ctx.history) is ctx.history[-1]:
            self._kept = (ctx.epoch, jax.device_get(ctx.state.variables))
        return None

    def on_fit_end(self, ctx: FitContext) -> dict | None:
        if not ctx.history:
            return None
        row = self.best_row(ctx.history)
        if ctx.restore is not None:
            return ctx.restore(int(row["step"]))
        if self._kept is not None and self._kept[0] == row["epoch"]:
            return jax.tree.map(np.asarray, self._kept[1])
        return None


def _resolve(path: str | Path, workdir: Path | None, fn: str) -> Path:
    path = Path(path)
    if path.is_absolute():
        return path
    if workdir is None:
        raise ValueError(f"{fn}: path must be absolute when fit has no workdir, got {str(path)!r}")
    return workdir / path


class CSVLogger(Callback):
    """The history as CSV (one row per epoch), rewritten atomically at each epoch end.

    ``path`` is relative to the workdir unless absolute. Rewriting the whole file from the
    (checkpointed) history keeps it right after a resume.
    """

    def __init__(self, path: str | Path = "metrics.csv"):
        self.path = path

    def on_epoch_end(self, ctx: FitContext) -> None:
        columns = list(dict.fromkeys(k for row in ctx.history for k in row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(ctx.history)
        path = _resolve(self.path, ctx.workdir, "CSVLogger")
        results_io.write_text(path, buf.getvalue())
        return None


class JSONLLogger(Callback):
    """The history as JSON lines, rewritten atomically at each epoch end (see `CSVLogger`)."""

    def __init__(self, path: str | Path = "history.jsonl"):
        self.path = path

    def on_epoch_end(self, ctx: FitContext) -> None:
        results_io.write_jsonl(_resolve(self.path, ctx.workdir, "JSONLLogger"), ctx.history)
        return None


class TensorBoardLogger(Callback):
    """Each epoch's numbers as TensorBoard scalars (tag = column, step = epoch).

    Needs ``tensorboardX`` (``pip install 'jaxcnn[tensorboard]'``). After a resume only the
    epochs not yet logged are written (into a new event file, as TensorBoard expects).

    Raises:
      ImportError: tensorboardX is not installed (at construction, naming the extra).
    """

    def __init__(self, logdir: str | Path = "tensorboard"):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:
            raise ImportError(
                "TensorBoardLogger needs tensorboardX: pip install 'jaxcnn[tensorboard]' "
                "(or pip install tensorboardX)"
            ) from e
        self._writer_cls, self.logdir, self._logged = SummaryWriter, logdir, 0
        self._writer: Any = None

    def on_epoch_end(self, ctx: FitContext) -> None:
        if not is_writer():  # many processes: process 0 logs
            return None
        if self._writer is None:
            logdir = _resolve(self.logdir, ctx.workdir, "TensorBoardLogger")
            self._writer = self._writer_cls(str(logdir))
            self._logged = len(ctx.history) - 1
        writer = self._writer
        for row in ctx.history[self._logged :]:
            for k, v in row.items():
                if k != "epoch" and isinstance(v, int | float):
                    writer.add_scalar(k, v, row["epoch"])
        self._logged = len(ctx.history)
        writer.flush()
        return None

    def on_fit_end(self, ctx: FitContext) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return None


class PlotCurves(Callback):
    """Loss and accuracy curves as an image (`results.plot_curves`).

    Args:
      every: also redraw every this many epochs; None = only once, at the end.
      path: relative to the workdir unless absolute; the format follows the extension.
    """

    def __init__(self, every: int | None = None, path: str | Path = "curves.png"):
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"PlotCurves: every must be an int >= 1 or None, got {every!r}")
        self.every, self.path = every, path

    def on_epoch_end(self, ctx: FitContext) -> None:
        if self.every and ctx.epoch % self.every == 0:
            self._draw(ctx)
        return None

    def on_fit_end(self, ctx: FitContext) -> None:
        if ctx.history:
            self._draw(ctx)
        return None

    def _draw(self, ctx: FitContext) -> None:
        path = _resolve(self.path, ctx.workdir, "PlotCurves")
        path.parent.mkdir(parents=True, exist_ok=True)
        results_io.plot_curves(ctx.history, path)
