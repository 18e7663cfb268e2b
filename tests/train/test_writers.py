"""`jaxcnn.train.processes`: who writes, and in which order a shared cache is built."""

from __future__ import annotations

import pytest

from jaxcnn.train import processes
from tests.train.helpers import as_process


def _recording(monkeypatch, index: int):
    """Process ``index`` of 2, its barriers recorded instead of waited at."""
    as_process(monkeypatch, index, 2)
    events: list[str] = []
    monkeypatch.setattr(processes, "barrier", lambda name: events.append(f"barrier {name}"))
    return events


@pytest.mark.parametrize("index, order", [(0, ["build", "barrier c"]), (1, ["barrier c", "build"])])
def test_writer_first_builds_on_process_0_before_the_others(monkeypatch, index, order):
    events = _recording(monkeypatch, index)
    assert processes.writer_first("c", lambda: events.append("build") or 7) == 7
    assert events == order
    assert processes.is_writer() == (index == 0)


def test_writer_first_releases_the_others_when_process_0_fails(monkeypatch):
    events = _recording(monkeypatch, 0)

    def build():
        events.append("build")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        processes.writer_first("c", build)
    assert events == ["build", "barrier c"]
