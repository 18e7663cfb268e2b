"""What a user gets from the wheel (issue 22): one import name, and a core that needs no extras.

The wheel is built from a copy of the sources (so the build writes nothing into the repository),
installed with ``--no-deps`` into a fresh folder outside the repository (the dependencies already
in this environment are reused; nothing is downloaded), and used from a working directory outside
the repository with that folder on PYTHONPATH, while a meta-path finder makes the optional
packages unimportable.
"""

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ("librosa", "matplotlib", "sklearn", "skimage")

# Run in a fresh interpreter: the blocker must be in place before anything imports jaxcnn.
USER_SCRIPT = """
import json, sys
from pathlib import Path

BLOCKED = set(sys.argv[1].split(","))
target, workdir = Path(sys.argv[2]), Path(sys.argv[3])


class Block:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"blocked by the test: {name}", name=name)
        return None


sys.meta_path.insert(0, Block())

import jax.numpy as jnp
import numpy as np

import jaxcnn
import jaxcnn.functional
import jaxcnn.layers
import jaxcnn.train
from jaxcnn.layers import Conv2D, Dense, GlobalAvgPool, Sequential
from jaxcnn.train import Dataset, TrainConfig, fit

out = {"file": jaxcnn.__file__}
# A tiny fit: is the left half of an 8x8 image brighter than the right half?
rng = np.random.default_rng(0)
x = rng.normal(size=(96, 8, 8, 1)).astype(np.float32)
y = (x[:, :, :4].mean(axis=(1, 2, 3)) > x[:, :, 4:].mean(axis=(1, 2, 3))).astype(np.int32)
model = Sequential([Conv2D(8, 3, padding=1), jnp.tanh, GlobalAvgPool(), Dense(2)])
config = TrainConfig(epochs=4, batch_size=16, learning_rate=1e-2, num_classes=2)
result = fit(model, Dataset.from_arrays(x, y), None, config, workdir=workdir)
out["losses"] = [h["train_loss"] for h in result.history]
try:
    import jaxcnn.audio
except ImportError as e:
    out["audio_error"] = str(e)
out["blocked_loaded"] = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
print(json.dumps(out))
"""


def _copy_sources(dest: Path) -> Path:
    """The files the wheel is built from: pyproject's packages and package-dir folders."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = {"jaxcnn", *pyproject["tool"]["setuptools"]["package-dir"].values()}
    for name in folders:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for f in ROOT.iterdir():
        wanted = f.name in ("pyproject.toml", "README.md") or f.name.startswith("LICENSE")
        if f.is_file() and wanted:
            shutil.copy2(f, dest / f.name)
    return dest


@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory):
    src = _copy_sources(tmp_path_factory.mktemp("src"))
    wheels = tmp_path_factory.mktemp("wheels")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", wheels, src],
        check=True,
        cwd=wheels,
    )
    (wheel,) = wheels.glob("jaxcnn-*.whl")
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--no-index", "--target", target, wheel],
        check=True,
        cwd=wheels,
    )
    return wheel, target


def test_wheel_installs_one_top_level_name(wheel_install):
    wheel, target = wheel_install
    with zipfile.ZipFile(wheel) as z:
        top = {n.split("/")[0] for n in z.namelist()}
        names = set(z.namelist())
    assert {t for t in top if not t.endswith(".dist-info")} == {"jaxcnn"}
    installed = {p.name for p in target.iterdir()}
    assert {n for n in installed if not n.endswith(".dist-info")} == {"jaxcnn"}
    assert len(installed) == 2  # jaxcnn and its one jaxcnn-<version>.dist-info
    for part in ("audio", "text", "experiments"):  # the mapped folders ship as subpackages
        assert f"jaxcnn/{part}/__init__.py" in names
    assert "jaxcnn/experiments/main.py" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_core_works_without_the_extras(wheel_install, tmp_path):
    _, target = wheel_install
    workdir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", USER_SCRIPT, ",".join(BLOCKED), str(target), str(workdir)],
        cwd=tmp_path,  # outside the repository: the checkout is not importable from here
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(out["file"]).resolve().is_relative_to(target.resolve())
    assert out["blocked_loaded"] == []
    assert out["losses"][-1] < out["losses"][0]
    assert "jaxcnn[audio]" in out["audio_error"] and "librosa" in out["audio_error"]
    # fit wrote its results (with provenance) but, without matplotlib, no curves.
    record = json.loads((workdir / "results.json").read_text())
    prov = record["provenance"]
    assert prov["jaxcnn"] and prov["jax"] and prov["jaxlib"] and prov["numpy"]
    assert prov["backend"] == jax.default_backend() and prov["device_kinds"]
    assert prov["git_commit"] is None and record["code_version"] == "unknown"  # not a checkout
    assert not (workdir / "curves.png").exists()
