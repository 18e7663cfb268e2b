"""Every snippet of docs/training.md's "Any model, optimiser, loss and callbacks" runs."""

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "training.md"
SECTION = "## Any model, optimiser, loss and callbacks"


def snippets() -> list[str]:
    text = DOC.read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


@pytest.mark.slow  # nine small fits, each compiling: ~130 s on the loaded 2-core machine
def test_the_snippets_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = snippets()
    assert len(blocks) >= 9
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/training.md snippet {i + 1}", "exec"), namespace)  # noqa: S102
    assert namespace["result"].history  # the callbacks run trained
    assert (Path(namespace["workdir"]) / "metrics.csv").exists()
