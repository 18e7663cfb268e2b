"""Runs mypy over the package ``jaxcnn`` as installed, front-ends included.

Usage: python scripts/typecheck.py

``jaxcnn.audio`` and ``jaxcnn.text`` live in the top-level folders ``audio/`` and ``text/``
(setuptools' ``package-dir`` maps them), a mapping mypy cannot follow. So this builds, under
``build/typecheck/``, a tree of symlinks laid out as the wheel installs it
(``jaxcnn/<entry>`` -> ``jaxcnn/<entry>``, ``jaxcnn/audio`` -> ``audio/``, ``jaxcnn/text`` ->
``text/``), checks the package there with the settings in pyproject.toml's ``[tool.mypy]``, and
prints paths as they are in the repository. Exits with mypy's status (0: clean).
"""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = Path("build") / "typecheck"
# Folders that install as subpackages of jaxcnn (pyproject.toml's [tool.setuptools.package-dir]).
MAPPED = {"audio": "audio", "text": "text"}


def build_tree() -> Path:
    """Lays out ROOT/build/typecheck/jaxcnn as the wheel installs it; returns the package folder."""
    package = ROOT / TREE / "jaxcnn"
    shutil.rmtree(package, ignore_errors=True)
    package.mkdir(parents=True)
    for entry in sorted((ROOT / "jaxcnn").iterdir()):
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in MAPPED.items():
        (package / name).symlink_to(ROOT / folder)
    return package


def repo_paths(report: str) -> str:
    """Rewrites the tree's paths in mypy's report back to the repository's."""
    prefix = f"{TREE.as_posix()}/jaxcnn/"
    for name, folder in MAPPED.items():
        report = report.replace(f"{prefix}{name}/", f"{folder}/")
    return report.replace(prefix, "jaxcnn/")


def main() -> int:
    from mypy import api

    os.chdir(ROOT)
    build_tree()
    os.environ["MYPYPATH"] = TREE.as_posix()
    stdout, stderr, status = api.run(["-p", "jaxcnn"])
    sys.stdout.write(repo_paths(stdout))
    sys.stderr.write(repo_paths(stderr))
    return status


if __name__ == "__main__":
    sys.exit(main())
