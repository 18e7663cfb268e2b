"""Shared by the training tests: scikit-learn digits (real 8x8 images) and tiny Flax models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import flax.linen as nn
import numpy as np

from jaxcnn.train import Dataset


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits file read directly, as `load_digits` does: (1797, 8, 8), (1797,).

    Importing scikit-learn costs the child processes of the kill/resume tests a few seconds
    each; the file it ships is all they need.
    """
    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    if spec is None or spec.origin is None:
        raise ImportError("the digits tests need scikit-learn: pip install scikit-learn")
    csv = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    data = np.loadtxt(csv, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)


def digits(n_train: int = 1400):
    """Digits shuffled once with a fixed seed: (x_train, y_train, x_test, y_test), NHWC."""
    images, target = _load_digits()
    order = np.random.default_rng(0).permutation(len(target))
    x = (images[order] / 16.0).astype(np.float32)[..., None]  # (1797, 8, 8, 1)
    y = target[order].astype(np.int32)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def digit_sets(n_train: int = 1400):
    xt, yt, xe, ye = digits(n_train)
    return Dataset.from_arrays(xt, yt), Dataset.from_arrays(xe, ye)


class MLP(nn.Module):
    """(N, 8, 8, 1) -> (N, 10): dense-relu-(batch norm)-dropout-dense."""

    hidden: int = 64
    norm: bool = False
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = x.reshape(x.shape[0], -1)
        # No bias before batch norm: its true gradient is 0, and Adam would turn the rounding
        # noise in that gradient into full-size steps (runs on 1 and 4 devices would diverge).
        x = nn.relu(nn.Dense(self.hidden, use_bias=not self.norm)(x))
        if self.norm:
            x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        if self.dropout:
            x = nn.Dropout(self.dropout, deterministic=not train)(x)
        return nn.Dense(10)(x)


class SmallCNN(nn.Module):
    """(N, 8, 8, 1) -> (N, 10): conv3x3x16-relu-pool2, dense."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.relu(nn.Conv(16, (3, 3))(x))
        x = nn.max_pool(x, (2, 2), (2, 2))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


class PoolCNN(nn.Module):
    """(N, H, W, 1) -> (N, 10) for any H, W: conv3x3x8-relu, global mean, dense."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.relu(nn.Conv(8, (3, 3))(x))
        return nn.Dense(10)(x.mean(axis=(1, 2)))


def as_process(monkeypatch, index: int, count: int = 1) -> None:
    """Make `jaxcnn.train.processes` see this process as process ``index`` of ``count``.

    Every writer check in jaxcnn goes through `processes.is_writer` / `barrier`, which read
    ``processes.jax``: faking that one name makes a single test process act as a non-writer
    (``count`` 1 keeps `barrier` a no-op; JAX itself, orbax included, is untouched).
    """
    import types

    from jaxcnn.train import processes

    fake = types.SimpleNamespace(process_index=lambda: index, process_count=lambda: count)
    monkeypatch.setattr(processes, "jax", fake)
