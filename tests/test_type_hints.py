"""Every public function of the typed parts of the package carries type hints, and the counter
that checks it (scripts/hint_share.py, which also measures the share over the whole package)
counts a worked example right."""

import textwrap
from pathlib import Path

from scripts import hint_share

ROOT = Path(__file__).resolve().parent.parent
# Fully hinted: keep them so. (Add a folder here once its public functions all carry hints.)
TYPED = [
    "jaxcnn/__init__.py",
    "jaxcnn/config.py",
    "jaxcnn/paths.py",
    "jaxcnn/arith",
    "jaxcnn/inspect",
    "jaxcnn/vision",
    "text",
]


def test_typed_modules_hint_every_public_argument_and_return():
    hinted, total, returns, functions, missing = hint_share.count([ROOT / p for p in TYPED])
    assert missing == []
    assert (hinted, returns) == (total, functions)
    assert functions > 90  # the folders above were found and read


def test_counter_counts_public_arguments_and_returns_of_a_worked_example(tmp_path):
    (tmp_path / "mod.py").write_text(
        textwrap.dedent(
            """
            def f(a: int, b, *args: int, c=1, **kw) -> int: ...
            def _private(x): ...
            class C:
                def __init__(self, x: int): ...
                def m(self, y) -> None: ...
                @staticmethod
                def s(z: int): ...
                def _p(self, w): ...
                def __call__(self, v: int) -> int: ...
            class _Hidden:
                def m(self, u): ...
            """
        )
    )
    (tmp_path / "_private_module.py").write_text("def g(x): ...\n")
    hinted, total, returns, functions, missing = hint_share.count([tmp_path])
    # f: a, b, args, c, kw (2 hinted); __init__: x; m: y; s: z; __call__: v.
    assert (hinted, total) == (5, 9)
    # f, __init__ (needs none), m and __call__ have one; s has none.
    assert (returns, functions) == (4, 5)
    assert f"{tmp_path / 'mod.py'}:2 f(b)" in missing
    assert not any("_private" in m or "_Hidden" in m or "_p(" in m for m in missing)
