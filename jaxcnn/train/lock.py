"""One writer per workdir: an exclusive lock file holding the writer's host and PID.

Two runs writing one workdir corrupt each other's checkpoints (orbax deletes the other's
temp folders). `workdir_lock` takes ``<workdir>/.jaxcnn.lock`` with ``fcntl.flock`` for the
whole run: the kernel drops the lock when its process dies (however it dies), so a lock left
by a killed run is simply taken over, with a warning naming the dead holder. A second live
run fails at once with `WorkdirLockedError` naming the holder's host and PID.

The lock is re-entrant within one process (an experiment holds it and calls `fit` on the
same workdir).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import inspect
import os
import socket
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from jaxcnn.train import results
from jaxcnn.train.processes import is_writer

LOCK_NAME = ".jaxcnn.lock"

_held: dict[str, list] = {}  # realpath of the lock file -> [fd, depth]
_guard = threading.Lock()


class WorkdirLockedError(RuntimeError):
    """Another live process holds the workdir's lock; the message names its host and PID."""


@contextlib.contextmanager
def workdir_lock(workdir: str | os.PathLike) -> Iterator[Path]:
    """Hold ``workdir``'s writer lock for the ``with`` block (the folder is created if missing).

    Yields:
      the lock file's path.

    Raises:
      WorkdirLockedError: another process holds it (named by host and PID).
      NotADirectoryError: ``workdir`` exists and is not a folder.
    """
    workdir = Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise NotADirectoryError(f"workdir must be a folder, got a file: {workdir}")
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / LOCK_NAME
    key = os.path.realpath(path)
    with _guard:
        if key in _held:
            _held[key][1] += 1
        else:
            _held[key] = [_acquire(path), 1]
    try:
        yield path
    finally:
        with _guard:
            _held[key][1] -= 1
            if _held[key][1] == 0:
                fd = _held.pop(key)[0]
                os.ftruncate(fd, 0)  # no holder named: nobody holds it
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def locks_workdir(fn: Callable) -> Callable:
    """Decorate ``fn`` to hold `workdir_lock` on its ``workdir`` argument while it runs.

    A ``workdir`` of None takes no lock (`fit` without a workdir writes nothing); under
    ``jax.distributed`` only process 0 takes it (`jaxcnn.train.processes.is_writer`). Before
    ``fn`` starts it reads `jaxcnn.train.results.code_version` (kept for the process).
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        workdir = signature.bind(*args, **kwargs).arguments.get("workdir")
        # Read the commit now (kept for the process), so that the run's results name the code
        # it started with even if the checkout moves on while it trains.
        results.code_version()
        # Many processes run one job in one workdir: process 0 holds the lock for all of them.
        if workdir is None or not is_writer():
            return fn(*args, **kwargs)
        with workdir_lock(workdir):
            return fn(*args, **kwargs)

    return wrapper


def holder(workdir: str | os.PathLike) -> str | None:
    """The ``"host pid"`` text of ``workdir``'s lock file, or None when it names nobody."""
    try:
        text = (Path(workdir) / LOCK_NAME).read_text(errors="replace").strip()
    except OSError:
        return None
    return text or None


def _acquire(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        who = holder(path.parent) or "an unknown process"
        raise WorkdirLockedError(
            f"workdir {path.parent} is in use by {_describe(who)} (lock file {path}); "
            "wait for that run to finish, stop it, or use another --workdir"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    stale = os.pread(fd, 256, 0).decode("utf-8", "replace").strip()
    if stale:
        warnings.warn(
            f"workdir {path.parent}: taking over the lock left by {_describe(stale)}, "
            "which no longer holds it (killed?)",
            stacklevel=4,
        )
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{socket.gethostname()} {os.getpid()}\n".encode(), 0)
    os.fsync(fd)
    return fd


def _describe(text: str) -> str:
    host, _, pid = text.partition(" ")
    return f"PID {pid or '?'} on host {host}"
