"""One process of the multi-process test: small digits runs, with every file write logged.

Usage (under ``python -m jaxcnn.train.launch``): python -m tests.train.run_processes OUT
    EPOCHS WORKDIR [EPOCHS WORKDIR ...], the digits in ``OUT.digits.npz``.

Runs `run` once per pair, in order, in this one process (one start-up and JAX import for all
of them). A WORKDIR given as ``DIR.ready`` means DIR once the file ``DIR.ready`` exists (the
test makes DIR meanwhile, then that file). Run ``i`` writes ``OUT.<i>.<process>.npz`` (the
final variables) and ``OUT.<i>.<process>.writes`` (each path this process renamed into place
during it: every atomic write of `fit` and orbax ends in ``os.replace`` / ``os.rename``).
"""

from __future__ import annotations

import os
import signal
import sys
import time

import jax
import numpy as np

from jaxcnn.train import Dataset, TrainConfig, fit
from jaxcnn.train.transfer import param_paths
from tests.train.helpers import MLP, digit_sets

# Small on purpose: 8 steps an epoch in 2 calls, one checkpoint an epoch. Batch norm and
# dropout stay: the batch statistics and the dropout keys are what sharding could get wrong.
CONFIG = TrainConfig(batch_size=32, learning_rate=3e-3, steps_per_call=4, seed=3)
MODEL = MLP(hidden=32, norm=True, dropout=0.1)
# A process stuck in a collective (its peer died) ends itself rather than hang the test.
LIMIT_S = 300


def run(epochs: int, workdir=None, digits=None) -> dict:
    """Train MODEL on 256 digits for ``epochs``; returns {path: array} of the final variables.

    ``digits``: `helpers.digits(256)` as the test saved it (no scikit-learn import here).
    """
    train, test = digit_sets(256) if digits is None else _sets(*digits)
    config = TrainConfig(**{**CONFIG.__dict__, "epochs": epochs})
    result = fit(MODEL, train, test, config, workdir=workdir)
    leaves = jax.tree.leaves(result.variables)
    return {k: np.asarray(v) for k, v in zip(param_paths(result.variables), leaves, strict=True)}


def main() -> None:
    signal.alarm(LIMIT_S)
    out, pairs = sys.argv[1], sys.argv[2:]
    pid = jax.process_index()
    with np.load(f"{out}.digits.npz") as f:
        digits = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    log = [None]

    for name in ("replace", "rename"):
        original = getattr(os, name)

        def logged(src, dst, *a, _original=original, **k):
            log[0].write(f"{os.fspath(dst)}\n")
            log[0].flush()
            return _original(src, dst, *a, **k)

        setattr(os, name, logged)
    for i in range(len(pairs) // 2):
        epochs, workdir = int(pairs[2 * i]), pairs[2 * i + 1]
        if workdir.endswith(".ready"):
            workdir = workdir.removesuffix(".ready")
            while not os.path.exists(workdir + ".ready"):
                time.sleep(0.1)
        log[0] = open(f"{out}.{i}.{pid}.writes", "w")  # noqa: SIM115 - kept open to exit
        np.savez(f"{out}.{i}.{pid}.npz", **run(epochs, workdir, digits))


def _sets(x_train, y_train, x_test, y_test):
    return Dataset.from_arrays(x_train, y_train), Dataset.from_arrays(x_test, y_test)


if __name__ == "__main__":
    main()
