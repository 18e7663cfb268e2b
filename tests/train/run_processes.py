"""One process of the multi-process tests: a small digits run, with every file write logged.

Usage (under ``python -m jaxcnn.train.launch``): python -m tests.train.run_processes OUT
    WORKDIR EPOCHS. Writes ``OUT.<process>.npz`` (the final variables) and
``OUT.<process>.writes`` (each path this process renamed into place: every atomic write
of `fit` and orbax ends in ``os.replace`` / ``os.rename``).
"""

from __future__ import annotations

import os
import sys

import jax
import numpy as np

from jaxcnn.train import TrainConfig, fit
from jaxcnn.train.transfer import param_paths
from tests.train.helpers import MLP, digit_sets

# Small on purpose (the test starts six processes): 8 steps an epoch, 2 calls, 1 checkpoint.
CONFIG = TrainConfig(batch_size=32, learning_rate=3e-3, steps_per_call=4, seed=3)
MODEL = MLP(hidden=32, norm=True, dropout=0.1)


def run(epochs: int, workdir=None) -> dict:
    """Train MODEL on 256 digits for ``epochs``; returns {path: array} of the final variables."""
    train, test = digit_sets(256)
    config = TrainConfig(**{**CONFIG.__dict__, "epochs": epochs})
    result = fit(MODEL, train, test, config, workdir=workdir)
    leaves = jax.tree.leaves(result.variables)
    return {k: np.asarray(v) for k, v in zip(param_paths(result.variables), leaves, strict=True)}


def main() -> None:
    out, workdir, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pid = jax.process_index()
    log = open(f"{out}.{pid}.writes", "a")  # noqa: SIM115 - open for the whole run
    for name in ("replace", "rename"):
        original = getattr(os, name)

        def logged(src, dst, *a, _original=original, **k):
            log.write(f"{os.fspath(dst)}\n")
            log.flush()
            return _original(src, dst, *a, **k)

        setattr(os, name, logged)
    np.savez(f"{out}.{pid}.npz", **run(epochs, workdir))


if __name__ == "__main__":
    main()
