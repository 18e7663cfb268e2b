"""Callbacks: early stopping, best checkpoint, loggers, curves; stopped runs resume exactly."""

import csv
import json
import sys

import pytest

from jaxcnn.train import (
    BestCheckpoint,
    Callback,
    CSVLogger,
    Dataset,
    EarlyStopping,
    JSONLLogger,
    PlotCurves,
    TensorBoardLogger,
    TrainConfig,
    fit,
)
from jaxcnn.train.callbacks import FitContext, best_index
from jaxcnn.train.checkpoint import leaves_equal
from tests.train.helpers import MLP, digits

CFG = TrainConfig(epochs=10, batch_size=64, learning_rate=3e-3, progress=False)


@pytest.fixture(scope="module")
def data():
    xt, yt, xe, ye = digits(512)
    return Dataset.from_arrays(xt, yt), Dataset.from_arrays(xe[:128], ye[:128])


def _ctx(history):
    return FitContext(None, None, len(history), 0, history, None)


def test_early_stopping_decides_from_the_history():
    rows = [{"epoch": i + 1, "eval_loss": v} for i, v in enumerate([1.0, 0.8, 0.85, 0.8, 0.9])]
    stop = EarlyStopping("eval_loss", patience=2, mode="min")
    # best 0.8 at epoch 2 (the first of equals): epochs 3 and 4 do not improve -> stop at 4
    assert [stop.on_epoch_end(_ctx(rows[:n])) for n in range(1, 6)] == [
        False,
        False,
        False,
        True,
        True,
    ]
    assert best_index([0.5, 0.7, 0.7], "max") == 1
    assert best_index([0.5, 0.7, 0.71], "max", min_delta=0.05) == 1
    with pytest.raises(ValueError, match="monitor must be one of the history's columns"):
        EarlyStopping("eval_acc").on_epoch_end(_ctx(rows[:1]))
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'up'"):
        EarlyStopping(mode="up")


def test_early_stopping_stops_fit(data):
    train, test = data
    # train loss falls every epoch, so "max" never improves after epoch 1: stop after 1 + 2
    stop = EarlyStopping("train_loss", patience=2, mode="max")
    result = fit(MLP(hidden=16), train, test, CFG, callbacks=[stop])
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    assert result.stopped_early and result.steps == 3 * (512 // 64)


def _strip(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


@pytest.mark.parametrize("with_workdir", [True, False])
def test_best_checkpoint_returns_the_best_epoch(data, tmp_path, with_workdir):
    train, test = data
    workdir = tmp_path / "run" if with_workdir else None
    best = BestCheckpoint("train_loss", mode="max")  # epoch 1 has the highest train loss
    cfg = TrainConfig(epochs=3, batch_size=64, learning_rate=3e-3, progress=False)
    result = fit(MLP(hidden=16), train, test, cfg, workdir=workdir, callbacks=[best])
    one_epoch = fit(MLP(hidden=16), train, test, TrainConfig(**{**cfg.__dict__, "epochs": 1}))
    assert result.best_epoch == 1 and len(result.history) == 3
    assert leaves_equal(result.variables, one_epoch.variables)
    assert not leaves_equal(result.state.variables, one_epoch.variables)  # state: the last
    assert result.eval["accuracy"] == pytest.approx(one_epoch.eval["accuracy"])
    if with_workdir:
        assert json.loads((workdir / "results.json").read_text())["best_epoch"] == 1
        # done: the same call again restores the same best variables
        again = fit(MLP(hidden=16), train, test, cfg, workdir=workdir, callbacks=[best])
        assert leaves_equal(again.variables, one_epoch.variables)


class _Kill(Callback):
    """Stands in for a SIGKILL: raises at a given step's call end."""

    def __init__(self, step):
        self.step = step

    def on_call_end(self, ctx):
        if ctx.step == self.step:
            raise KeyboardInterrupt("killed")


def test_killed_after_early_stopping_began_resumes_identically(data, tmp_path):
    train, test = data
    # 8 steps per epoch in calls of 3, 3, 2; a checkpoint at the first boundary after each 3
    cfg = TrainConfig(epochs=10, batch_size=64, learning_rate=3e-3, checkpoint_every=3)

    def stop():
        # stops after epoch 4; the best checkpoint (epoch 1: the highest train loss) is kept
        return [
            EarlyStopping("train_loss", patience=3, mode="max"),
            BestCheckpoint("train_loss", mode="max"),
        ]

    whole = fit(MLP(hidden=16), train, test, cfg, workdir=tmp_path / "a", callbacks=stop())
    assert len(whole.history) == 4 and whole.stopped_early and whole.best_epoch == 1
    # killed in epoch 3 (early stopping has counted epoch 2, not yet 3), mid-epoch
    with pytest.raises(KeyboardInterrupt):
        kill = [*stop(), _Kill(22)]
        fit(MLP(hidden=16), train, test, cfg, workdir=tmp_path / "b", callbacks=kill)
    resumed = fit(MLP(hidden=16), train, test, cfg, workdir=tmp_path / "b", callbacks=stop())
    assert leaves_equal(resumed.state, whole.state)  # the last epoch's, bit for bit
    assert leaves_equal(resumed.variables, whole.variables) and resumed.best_epoch == 1
    assert not leaves_equal(resumed.variables, resumed.state.variables)  # the best, restored
    assert _strip(resumed.history) == _strip(whole.history) and resumed.stopped_early
    # the stopped run, run again, trains no further
    again = fit(MLP(hidden=16), train, test, cfg, workdir=tmp_path / "b", callbacks=stop())
    assert again.steps == whole.steps and leaves_equal(again.variables, whole.variables)


def test_loggers_write_the_history(data, tmp_path):
    train, test = data
    cfg = TrainConfig(epochs=2, batch_size=64, progress=False)
    callbacks = [CSVLogger(), JSONLLogger(), PlotCurves(every=1, path="plots/c.png")]
    result = fit(MLP(hidden=16), train, test, cfg, workdir=tmp_path, callbacks=callbacks)
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["eval_loss"]) for r in rows] == [h["eval_loss"] for h in result.history]
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == result.history
    assert (tmp_path / "plots" / "c.png").stat().st_size > 1000
    assert not (tmp_path / "curves.png").exists()  # a PlotCurves given replaces the default
    with pytest.raises(ValueError, match="CSVLogger: path must be absolute when fit has no"):
        fit(MLP(hidden=16), train, test, cfg, callbacks=[CSVLogger()])


def test_tensorboard_logger(data, tmp_path, monkeypatch):
    pytest.importorskip("tensorboardX")
    train, test = data
    cfg = TrainConfig(epochs=2, batch_size=64, progress=False)
    result = fit(
        MLP(hidden=16), train, test, cfg, workdir=tmp_path, callbacks=[TensorBoardLogger()]
    )
    scalars = _read_events(tmp_path / "tensorboard")
    assert [(s, v) for t, s, v in scalars if t == "eval_accuracy"] == [
        (h["epoch"], pytest.approx(h["eval_accuracy"])) for h in result.history
    ]


def _read_events(logdir):
    """(tag, step, value) of every scalar in the TFRecord event files (no TensorBoard needed)."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    out = []
    for path in sorted(logdir.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            (n,) = struct.unpack("<Q", data[pos : pos + 8])
            event = Event.FromString(data[pos + 12 : pos + 12 + n])
            pos += 12 + n + 4
            for v in event.summary.value:
                out.append((v.tag, event.step, v.simple_value))
    return out


def test_tensorboard_logger_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"pip install 'jaxcnn\[tensorboard\]'"):
        TensorBoardLogger()


@pytest.mark.slow
def test_sigkill_after_early_stopping_began_resumes_identically(tmp_path):
    """A real SIGKILL of a child process in epoch 3 (early stopping counts epochs 2 and 3)."""
    import os
    import signal
    import subprocess
    import time
    from pathlib import Path

    import numpy as np

    from tests.train import run_digits

    root = Path(__file__).resolve().parents[2]
    steps = 1400 // run_digits.CONFIG.batch_size
    want = run_digits.run(6, stop=True)  # stops after epoch 3 of 6
    workdir, out = tmp_path / "run", tmp_path / "out.npz"
    args = [str(out), "--workdir", str(workdir), "--epochs", "6", "--early-stop"]
    cmd = [sys.executable, "-m", "tests.train.run_digits", *args]
    child = subprocess.Popen(cmd, cwd=root, env=dict(os.environ))
    deadline = time.time() + 600
    while time.time() < deadline and child.poll() is None:
        # folder names only: a Checkpointer here would clean up the child's unfinished saves
        ckpts = workdir / "checkpoints"
        saved = [int(p.name) for p in ckpts.glob("*") if p.name.isdigit()]
        if any(2 * steps < s < 3 * steps for s in saved):
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    child.wait()
    assert child.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    got = run_digits.run(6, workdir=workdir, stop=True)  # resumed in this process
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
