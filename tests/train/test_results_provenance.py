"""Provenance in results.json: library versions, devices, a commit only for a jaxcnn checkout."""

import importlib.metadata
import subprocess
from pathlib import Path

import jax

import jaxcnn
from jaxcnn.train import results

ROOT = Path(__file__).resolve().parents[2]


def _git(cwd, *args):
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _repo(path: Path, project: str) -> str:
    path.mkdir(parents=True, exist_ok=True)
    (path / "pyproject.toml").write_text(f'[project]\nname = "{project}"\n')
    _git(path, "init", "-q")
    _git(path, "add", "pyproject.toml")
    _git(path, "commit", "-q", "-m", "x")
    return _git(path, "rev-parse", "HEAD")


def test_provenance_matches_the_installed_libraries():
    p = results.provenance()
    assert p["jaxcnn"] == jaxcnn.__version__
    for name in ("jax", "jaxlib", "flax", "optax", "numpy"):
        assert p[name] == importlib.metadata.version(name)
    assert p["backend"] == jax.default_backend()
    assert p["device_kinds"] == sorted({d.device_kind for d in jax.devices()})
    assert p["device_count"] == jax.device_count()


def test_commit_of_a_jaxcnn_checkout(tmp_path):
    commit = _repo(tmp_path / "jaxcnn", "jaxcnn")
    assert results._commit_of(tmp_path / "jaxcnn") == commit
    (tmp_path / "jaxcnn" / "pyproject.toml").write_text('[project]\nname = "jaxcnn"\n# edit\n')
    assert results._commit_of(tmp_path / "jaxcnn") == commit + "+dirty"


def test_no_commit_from_another_repository(tmp_path):
    # Someone else's project: its commit says nothing about jaxcnn's code.
    _repo(tmp_path / "other", "other")
    assert results._commit_of(tmp_path / "other") == "unknown"
    # jaxcnn's files inside another repository (an installed copy in a user's .venv) but not
    # that repository's root: the enclosing commit is not ours either.
    nested = tmp_path / "other" / ".venv" / "lib"
    nested.mkdir(parents=True)
    (nested / "pyproject.toml").write_text('[project]\nname = "jaxcnn"\n')
    assert results._commit_of(nested) == "unknown"
    # No repository at all.
    (tmp_path / "plain").mkdir()
    assert results._commit_of(tmp_path / "plain") == "unknown"


def test_code_version_of_this_checkout():
    version = results.code_version()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode == 0:  # the tests run from a git checkout of jaxcnn
        assert version.removesuffix("+dirty") == head.stdout.strip()
        assert results.provenance()["git_commit"] == version


def test_the_commit_is_read_when_a_run_starts_and_kept(monkeypatch, tmp_path):
    # A run that takes minutes must not name a commit made while it trained: the first read,
    # at the start of any locks_workdir run, is the one every later result reports.
    from jaxcnn.train.lock import locks_workdir

    reads = []
    monkeypatch.setattr(results, "_commit_of", lambda root: reads.append(root) or f"c{len(reads)}")
    results.code_version.cache_clear()
    try:

        @locks_workdir
        def run(config, workdir):
            assert reads, "code_version was not read before the run started"
            return results.code_version()

        assert run(None, str(tmp_path)) == "c1"
        assert results.code_version() == "c1" and len(reads) == 1
    finally:
        results.code_version.cache_clear()  # the next test reads the real checkout again
