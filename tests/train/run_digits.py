"""A training run in its own process (for the kill/resume and multi-device tests).

Usage: python -m tests.train.run_digits WORKDIR OUT.npz [--no-workdir]
Writes the final parameters (and batch stats) to OUT.npz, flattened by path.
"""

from __future__ import annotations

import sys

import jax
import numpy as np

from jaxcnn.train import TrainConfig, fit
from jaxcnn.train.transfer import param_paths
from tests.train.helpers import MLP, digit_sets

CONFIG = TrainConfig(
    epochs=12, batch_size=32, learning_rate=3e-3, steps_per_call=4, checkpoint_every=8, seed=3
)


def main(argv):
    workdir, out = argv[0], argv[1]
    train, test = digit_sets()
    result = fit(
        MLP(hidden=32, norm=True, dropout=0.1),
        train,
        test,
        CONFIG,
        workdir=None if "--no-workdir" in argv else workdir,
    )
    flat = dict(zip(param_paths(result.variables), jax.tree.leaves(result.variables), strict=True))
    np.savez(out, **{k: np.asarray(v) for k, v in flat.items()})


if __name__ == "__main__":
    main(sys.argv[1:])
