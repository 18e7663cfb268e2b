"""A tqdm progress bar with loss, accuracy and examples/second; silent off a terminal and on
every process but process 0 (``jax.distributed``: one bar per job, not N interleaved ones)."""

from __future__ import annotations

import importlib.util
import sys

from jaxcnn.train.processes import is_writer


def progress_bar(total: int, enabled: bool | None, desc: str = "train"):
    """A tqdm bar over ``total`` steps, or a no-op object when disabled.

    ``enabled=None`` shows the bar only when stderr is a terminal and tqdm is installed (it is not
    a core dependency), so logs, CI and a slim install stay clean. Under ``jax.distributed`` only
    process 0 shows one (`jaxcnn.train.processes.is_writer`), whatever ``enabled`` says.

    Raises:
      ImportError: ``enabled=True`` and tqdm is not installed.
    """
    if not is_writer():
        return _NoBar()
    if enabled is None:
        enabled = sys.stderr.isatty() and _has_tqdm()
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError as e:
        raise ImportError("progress bars need tqdm: pip install tqdm") from e

    return tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True, leave=False)


def _has_tqdm() -> bool:
    try:
        return importlib.util.find_spec("tqdm") is not None
    except (ImportError, ValueError):
        return False


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass
