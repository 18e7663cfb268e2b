"""Acceptance: two runs on one workdir, a reader of a live run, SIGKILL and a full disk.

Each child process is `tests.train.run_digits` for one epoch (43 steps, a checkpoint every 8).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jaxcnn.train import TrainConfig, fit
from jaxcnn.train.checkpoint import MANIFEST, TRASH, _check_manifest
from jaxcnn.train.lock import WorkdirLockedError, holder
from jaxcnn.train.transfer import load_variables, param_paths
from tests.train import run_digits
from tests.train.helpers import MLP, digit_sets

ROOT = Path(__file__).resolve().parents[2]
TRASH_DIR = f"checkpoints/{TRASH}"  # where a run's deleted checkpoints wait (checkpoint.py)
EPOCHS = "1"

# The child runs under a per-file size limit (RLIMIT_FSIZE), so the checkpoint's data file
# cannot be written: the same failure a full disk gives, without root or a tmpfs.
DISK_FULL = (
    "import resource, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
    "from tests.train import run_digits\n"
    "try:\n"
    "    run_digits.main(sys.argv[1:])\n"
    "except OSError as e:\n"
    "    print('OSERROR', e.errno, e, flush=True)\n"
    "    sys.exit(3)\n"
)


def _child(out, workdir, *, script=None):
    args = [str(out), "--workdir", str(workdir), "--epochs", EPOCHS]
    cmd = [sys.executable, *(["-c", script] if script else ["-m", "tests.train.run_digits"])]
    return subprocess.Popen(cmd + args, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def _wait_for(cond, child, what):
    deadline = time.monotonic() + 300
    while not cond():
        assert child.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _finished_steps(workdir: Path, folder: str = "checkpoints") -> list[int]:
    """Steps under ``workdir / folder`` with a manifest whose files all match it."""

    def intact(step: Path) -> bool:
        try:
            return _check_manifest(step) is None
        except OSError:  # renamed away (deleted) while it was read: a live run's
            return False

    return sorted(
        int(p.parent.name)
        for p in (workdir / folder).glob(f"*/{MANIFEST}")
        if p.parent.name.isdigit() and intact(p.parent)
    )


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _flat(variables: dict) -> dict:
    import jax

    leaves = jax.tree.leaves(variables)
    return dict(zip(param_paths(variables), (np.asarray(v) for v in leaves), strict=True))


def _tree_snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def test_two_runs_on_one_workdir(tmp_path):
    workdir, out = tmp_path / "w", tmp_path / "out.npz"
    first = _child(out, workdir)
    try:
        _wait_for(lambda: holder(workdir) is not None, first, "the first run took its lock")
        train, _ = digit_sets(n_train=64)
        t0 = time.monotonic()
        with pytest.raises(WorkdirLockedError, match=f"in use by PID {first.pid} on host"):
            fit(MLP(), train, None, TrainConfig(epochs=1, batch_size=32), workdir=workdir)
        assert time.monotonic() - t0 < 60  # refused at once, not after training
        _wait_for(lambda: _finished_steps(workdir), first, "a checkpoint")
        live = load_variables(workdir)  # a reader of the live run
        assert "params" in live
        assert first.wait(timeout=300) == 0, "the first run was disturbed"
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # The first run is intact: its newest checkpoint holds exactly what it returned.
    got = dict(np.load(out))
    final = _flat(load_variables(workdir))
    assert final.keys() == got.keys()
    for k in got:
        assert final[k].tobytes() == got[k].tobytes(), k
    assert holder(workdir) is None
    # One mode for every file of the run, from the umask: orbax's files were 0644 and the
    # manifests, results and plots 0600, so another user could read checkpoints but not
    # their manifests (and then counted every checkpoint as corrupt).
    want = 0o666 & ~_umask()
    modes = {str(p.relative_to(workdir)): p.stat().st_mode & 0o777 for p in workdir.rglob("*")}
    files = {k: m for k, m in modes.items() if (workdir / k).is_file()}
    assert any(k.endswith(MANIFEST) for k in files) and "results.json" in files
    assert {k: m for k, m in files.items() if m != want} == {}

    # A reader changes nothing, even beside an in-progress save of a live run.
    tmp_save = workdir / "checkpoints" / "999.orbax-checkpoint-tmp-1234"
    (tmp_save / "state").mkdir(parents=True)
    (tmp_save / "state" / "data").write_bytes(b"in progress")
    before = _tree_snapshot(workdir)
    load_variables(workdir)
    assert _tree_snapshot(workdir) == before
    missing = tmp_path / "no_such_run"
    with pytest.raises(FileNotFoundError, match="no_such_run"):
        load_variables(missing)
    assert not missing.exists()


def test_sigkill_then_full_disk_then_resume_is_bit_identical(tmp_path):
    """Killed at any moment after a checkpoint; the resume hits a full disk; the next one ends."""
    workdir, out = tmp_path / "w", tmp_path / "out.npz"
    child = _child(out, workdir)
    try:
        _wait_for(lambda: _finished_steps(workdir), child, "a checkpoint")
        time.sleep(np.random.default_rng().uniform(0, 0.3))  # any moment, even mid-save
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not out.exists()

    # Disk full: the resumed run's first save fails with a named OSError, nothing is lost.
    # A kill inside a save can leave the steps orbax deleted for it in the trash: the next run
    # puts the intact ones back (the save they made room for never finished).
    steps = sorted(set(_finished_steps(workdir)) | set(_finished_steps(workdir, TRASH_DIR)))
    full = _child(out, workdir, script=DISK_FULL)
    stdout, _ = full.communicate(timeout=300)
    assert full.returncode == 3, stdout
    code, _, message = stdout.split("OSERROR ", 1)[1].partition(" ")
    assert int(code) in (errno.ENOSPC, errno.EFBIG), stdout
    assert str(workdir / "checkpoints") in message and "previous checkpoint kept" in message
    assert not list((workdir / "checkpoints").glob("*tmp*")), "a partial save was left"
    assert _finished_steps(workdir) == steps
    assert all(_check_manifest(workdir / "checkpoints" / str(s)) is None for s in steps)

    resumed = _child(out, workdir)
    assert resumed.wait(timeout=300) == 0
    got = dict(np.load(out))
    want = run_digits.run(int(EPOCHS))  # the same run, uninterrupted, in this process
    assert got.keys() == want.keys()
    for k in got:
        assert got[k].tobytes() == want[k].tobytes(), k  # bit for bit
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1]
