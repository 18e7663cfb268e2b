"""jaxcnn.train.lock: one writer per workdir, named holder, stale locks taken over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from jaxcnn.train.lock import LOCK_NAME, holder, locks_workdir, workdir_lock

TRY_LOCK = (
    "import sys\n"
    "from jaxcnn.train.lock import workdir_lock, WorkdirLockedError\n"
    "try:\n"
    "    with workdir_lock(sys.argv[1]):\n"
    "        print('LOCKED')\n"
    "except WorkdirLockedError as e:\n"
    "    print('REFUSED', e)\n"
)


def _try_in_child(workdir) -> str:
    out = subprocess.run(
        [sys.executable, "-c", TRY_LOCK, str(workdir)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_second_process_is_refused_naming_the_holder(tmp_path):
    with workdir_lock(tmp_path / "w"):
        assert holder(tmp_path / "w") == f"{socket.gethostname()} {os.getpid()}"
        got = _try_in_child(tmp_path / "w")
    assert got.startswith("REFUSED"), got
    assert f"PID {os.getpid()} on host {socket.gethostname()}" in got
    assert str(tmp_path / "w") in got
    assert _try_in_child(tmp_path / "w").startswith("LOCKED")  # released on exit
    assert holder(tmp_path / "w") is None


def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp_path / LOCK_NAME).write_text(f"{socket.gethostname()} {dead.stdout.strip()}\n")
    with pytest.warns(UserWarning, match=f"taking over the lock left by PID {dead.stdout.strip()}"):
        with workdir_lock(tmp_path):
            assert holder(tmp_path) == f"{socket.gethostname()} {os.getpid()}"


def test_reentrant_in_one_process_and_decorator(tmp_path):
    calls = []

    @locks_workdir
    def run(config, workdir=None):
        calls.append(holder(workdir) if workdir else None)
        return config

    with workdir_lock(tmp_path):
        assert run(1, workdir=tmp_path) == 1  # the experiment holds it, fit takes it again
        assert holder(tmp_path) is not None
    assert run(2) == 2
    assert calls == [f"{socket.gethostname()} {os.getpid()}", None]
    assert holder(tmp_path) is None


def test_workdir_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(NotADirectoryError, match="workdir must be a folder, got a file"):
        with workdir_lock(f):
            pass
