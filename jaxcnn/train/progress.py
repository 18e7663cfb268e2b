"""A tqdm progress bar with loss, accuracy and examples/second; silent off a terminal."""

from __future__ import annotations

import sys


def progress_bar(total: int, enabled: bool | None, desc: str = "train"):
    """A tqdm bar over ``total`` steps, or a no-op object when disabled.

    ``enabled=None`` shows the bar only when stderr is a terminal, so logs and CI stay clean.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True, leave=False)


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass
