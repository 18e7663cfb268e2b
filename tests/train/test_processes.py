"""Two local CPU processes (jax.distributed, gloo): same parameters, files written once, resume
across process counts (2 -> 1 and 1 -> 2)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from tests.train.run_processes import run


def _two(out, workdir, epochs):
    """Run `run_processes` on two processes via the launcher; {process: (variables, writes)}."""
    subprocess.run(
        [sys.executable, "-m", "jaxcnn.train.launch", "--processes", "2",
         "tests.train.run_processes", str(out), str(workdir), str(epochs)],
        check=True, timeout=240,
    )  # fmt: skip
    return {
        p: (dict(np.load(f"{out}.{p}.npz")), open(f"{out}.{p}.writes").read().split())
        for p in (0, 1)
    }


def _close(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_two_processes_match_one_write_once_and_resume_across_counts(tmp_path):
    want = run(2)
    # A whole run on two processes: the same parameters on both, each file written by one.
    both = _two(tmp_path / "a", tmp_path / "wa", 2)
    _close(both[0][0], want)
    _close(both[1][0], want)
    assert both[1][1] == []
    written = [w for w in both[0][1] if not w.endswith((".orbax-checkpoint-tmp/meta", "/state"))]
    # As one process writes them: metrics.jsonl after each of the 2 epochs and once at the end
    # (`_resume.settle`), the others once.
    for name, times in (("results.json", 1), ("metrics.jsonl", 3), ("curves.png", 1)):
        assert sum(w.endswith("/" + name) for w in written) == times, name
    assert sum(w.endswith("jaxcnn_manifest.json") for w in written) == 2  # one per epoch
    # Checkpointed on two processes (epoch 1), resumed on one to epoch 2, and vice versa.
    _two(tmp_path / "b", tmp_path / "wb", 1)
    _close(run(2, tmp_path / "wb"), want)
    run(1, tmp_path / "wc")
    resumed = _two(tmp_path / "c", tmp_path / "wc", 2)
    _close(resumed[0][0], want)
    assert resumed[1][1] == []
