"""Drawing a figure leaves the user's matplotlib as it was: no backend switch, no pyplot state."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("jaxcnn", "audio", "text", "experiments", "benchmarks")

# A fresh interpreter whose user chose the svg backend (as a notebook chooses inline).
SCRIPT = """
import sys
import matplotlib
import numpy as np
from jaxcnn.train.results import plot_curves
from jaxcnn.inspect import save_filter_grid, save_receptive_field

out = sys.argv[1]
plot_curves([{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5}], out + "/curves.png")
save_filter_grid(np.ones((3, 3, 1, 4), np.float32), out + "/filters.png")
save_receptive_field(np.zeros((8, 8, 1)), (1, 4), (2, 5), out + "/rf.png")
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""


def test_figures_keep_the_users_backend(tmp_path):
    env = {**os.environ, "MPLBACKEND": "svg"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    backend, pyplot_loaded = done.stdout.split()
    assert backend == "svg" and pyplot_loaded == "False"
    for name in ("curves.png", "filters.png", "rf.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_matplotlib_use_in_the_sources():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in SOURCES
        for path in (ROOT / folder).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "matplotlib.use(" in line or "import matplotlib.pyplot" in line
    ]
    assert offenders == []
