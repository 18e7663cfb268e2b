"""Two local CPU processes (jax.distributed, gloo): same parameters, files written once, resume
across process counts (2 -> 1 and 1 -> 2).

Cheap on purpose (it is in the default suite): one launch of two processes, each starting
JAX once and running two `fit` calls, while this process runs two of its three one-process
`fit` calls.
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import numpy as np

from jaxcnn.train import launch
from tests.train.helpers import digits
from tests.train.run_processes import run

# As one process writes them: metrics.jsonl after the epoch and once at the end
# (`_resume.settle`), a checkpoint manifest per epoch, the others once.
ONCE = {"results.json": 1, "metrics.jsonl": 2, "curves.png": 1, "jaxcnn_manifest.json": 1}


def test_two_processes_match_one_write_once_and_resume_across_counts(tmp_path):
    # Two processes, in one launch (this process is the launcher's parent), in the background:
    # (0) a fresh run of 1 epoch, checkpointed; (1) once this process has checkpointed epoch 1
    # in `one`, that run resumed to epoch 2.
    out, two_dir, one_dir = tmp_path / "out", tmp_path / "two", tmp_path / "one"
    args = ["tests.train.run_processes", str(out), "1", str(two_dir), "2", f"{one_dir}.ready"]
    x_train, y_train, x_test, y_test = digits(256)
    np.savez(f"{out}.digits.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        launched = pool.submit(launch.main, ["--processes", "2", *args])
        try:
            one = run(1, one_dir)  # one process, checkpointed at epoch 1
        finally:  # (else the two would wait for it until their time limit)
            (tmp_path / "one.ready").touch()
        want = run(2)  # one process, 2 epochs
        # Checkpointed on two processes (run 0), resumed on one while the two run run 1.
        while not (launched.done() or Path(f"{out}.1.0.writes").exists()):  # run 1 started
            time.sleep(0.1)
        assert not launched.done() or launched.result() == 0
        resumed_on_one = run(2, two_dir)
        assert launched.result() == 0
    runs = [
        [(dict(np.load(f"{out}.{i}.{p}.npz")), open(f"{out}.{i}.{p}.writes").read().split())
         for p in (0, 1)]
        for i in (0, 1)
    ]  # fmt: skip
    # The same parameters on both processes as on one; every file written once, by process 0.
    for variables, _ in runs[0]:
        _close(variables, one)
    for i in (0, 1):
        assert runs[i][1][1] == [], f"process 1 wrote in run {i}"
        written = [
            w for w in runs[i][0][1] if not w.endswith((".orbax-checkpoint-tmp/meta", "/state"))
        ]
        for name, times in ONCE.items():
            assert sum(w.endswith("/" + name) for w in written) == times, (i, name, written)
    # Checkpointed on one process, resumed on two (run 1); checkpointed on two, resumed on one.
    for variables, _ in runs[1]:
        _close(variables, want)
    _close(resumed_on_one, want)


def _close(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-5, err_msg=k)
