"""jaxcnn._durable: modes from the umask, strict JSON, nothing half-written, named errors."""

from __future__ import annotations

import errno
import json
import os
import stat

import numpy as np
import pytest

from jaxcnn import _durable
from jaxcnn.train import results


def _strict_loads(text: str):
    def refuse(name):
        raise AssertionError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_mode_follows_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        results.write_json(tmp_path / "r.json", {"a": 1})
        results.write_jsonl(tmp_path / "m.jsonl", [{"a": 1}])
    finally:
        os.umask(old)
    for name in ("r.json", "m.jsonl"):
        # mkstemp alone gives 0o600: another user of a shared workdir could not read it.
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask


def test_nonfinite_written_as_null_with_reason(tmp_path):
    obj = {"loss": float("nan"), "hi": np.float32("inf"), "xs": [1.0, float("-inf"), 2.0]}
    results.write_json(tmp_path / "r.json", obj)
    got = _strict_loads((tmp_path / "r.json").read_text())
    assert got == {
        "loss": None,
        "loss_nonfinite": "nan",
        "hi": None,
        "hi_nonfinite": "inf",
        "xs": [1.0, None, 2.0],
        "xs_nonfinite": "-inf at [1]",
    }
    results.write_jsonl(tmp_path / "m.jsonl", [{"eval_loss": float("nan")}])
    line = (tmp_path / "m.jsonl").read_text().splitlines()[0]
    assert _strict_loads(line) == {"eval_loss": None, "eval_loss_nonfinite": "nan"}


def test_failed_write_keeps_old_file_and_no_temp(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")

    def disk_full(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=r"cannot write .*r\.json") as info:
        _durable.atomic_write(target, disk_full)
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_read_json_names_file(tmp_path):
    bad = tmp_path / "row.json"
    bad.write_text('{"a": 1')
    with pytest.raises(_durable.CorruptFileError, match=r"row\.json is not valid JSON.*rebuild"):
        _durable.read_json(bad)
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match=r"row\.json"):
        _durable.read_json(bad)
    with pytest.raises(FileNotFoundError):
        _durable.read_json(tmp_path / "none.json")
    with pytest.raises(IsADirectoryError, match="folder"):
        _durable.read_json(tmp_path)
