"""A training run in its own process (for the kill/resume and multi-device tests).

Usage: python -m tests.train.run_digits OUT.npz [--workdir DIR] [--epochs N] [--bad-batch]
    [--model mlp|cnn] [--early-stop]
Writes the final variables to OUT.npz, flattened by "/"-joined path. ``--bad-batch`` first
tries a batch size that the device count does not divide and prints the error. ``--model cnn``
trains a convolutional model (its step's convolutions canonicalised inside the scan).
``--early-stop`` adds `EARLY_STOP` (it stops the run after its third epoch).
"""

from __future__ import annotations

import argparse
import dataclasses

import jax
import numpy as np

from jaxcnn.train import EarlyStopping, TrainConfig, fit
from jaxcnn.train.transfer import param_paths
from tests.train.helpers import MLP, SmallCNN, digit_sets

CONFIG = TrainConfig(
    epochs=3, batch_size=32, learning_rate=3e-3, steps_per_call=4, checkpoint_every=8, seed=3
)
MODEL = MLP(hidden=32, norm=True, dropout=0.1)
MODELS = {"mlp": MODEL, "cnn": SmallCNN()}


def early_stop() -> EarlyStopping:
    """The training loss falls each epoch, so "max" never improves: stops after epoch 3."""
    return EarlyStopping("train_loss", patience=2, mode="max")


def run(epochs: int, workdir=None, model: str = "mlp", stop: bool = False) -> dict:
    """Train MODELS[model] on digits; returns {path: array} of the final variables."""
    train, test = digit_sets()
    config = dataclasses.replace(CONFIG, epochs=epochs)
    callbacks = [early_stop()] if stop else []
    result = fit(MODELS[model], train, test, config, workdir=workdir, callbacks=callbacks)
    leaves = jax.tree.leaves(result.variables)
    return {k: np.asarray(v) for k, v in zip(param_paths(result.variables), leaves, strict=True)}


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--epochs", type=int, default=CONFIG.epochs)
    parser.add_argument("--bad-batch", action="store_true")
    parser.add_argument("--model", choices=sorted(MODELS), default="mlp")
    parser.add_argument("--early-stop", action="store_true")
    args = parser.parse_args(argv)
    if args.bad_batch:
        train, _ = digit_sets()
        try:
            fit(MODEL, train, None, dataclasses.replace(CONFIG, batch_size=30))
        except ValueError as e:
            print("ERROR:", e, flush=True)
    np.savez(args.out, **run(args.epochs, args.workdir, args.model, args.early_stop))


if __name__ == "__main__":
    main()
