"""Shared by the experiment tests: every JSON file a run wrote parses as strict JSON."""

from __future__ import annotations

import json
from pathlib import Path


def assert_strict_json_files(folder: str | Path, *, at_least: int = 1) -> int:
    """Parse every ``*.json`` and ``*.jsonl`` under ``folder`` refusing NaN and Infinity.

    Returns the number of files checked (at least ``at_least``, so the check cannot pass
    vacuously).
    """

    def refuse(constant: str):
        raise AssertionError(f"not strict JSON: a bare {constant}")

    files = sorted(Path(folder).rglob("*.json")) + sorted(Path(folder).rglob("*.jsonl"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines() if path.suffix == ".jsonl" else [text]
        for line in lines:
            try:
                json.loads(line, parse_constant=refuse)
            except AssertionError as e:
                raise AssertionError(f"{path}: {e}") from None
    assert len(files) >= at_least, f"expected >= {at_least} JSON files under {folder}"
    return len(files)
