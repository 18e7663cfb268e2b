"""fit runs a CNN's chunk of steps as one lax.scan with only canonical CPU convolutions inside,
and gets the results of running the same steps one call each."""

import dataclasses

import flax.linen as nn
import jax
import numpy as np
import pytest

from jaxcnn import config
from jaxcnn import layers as L
from jaxcnn.train import Dataset, TrainConfig, fit
from tests.train.helpers import SmallCNN, digits


class RowsCNN(nn.Module):
    """(N, 8, 8, 1) -> (N, 10) through jaxcnn's layers (rows and lax lowerings, forced)."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.relu(L.Conv2D(8, 3, padding="SAME")(x))
        x = L.MaxPool(2)(x)
        x = nn.relu(L.Conv2D(8, 3)(x))
        x = nn.Dropout(0.1, deterministic=not train)(x)
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


@pytest.mark.parametrize("model", [SmallCNN(), RowsCNN()], ids=["flax_conv", "jaxcnn_layers"])
def test_a_cnn_chunk_gives_the_results_of_one_step_per_call(model):
    xs, ys = digits()[:2]
    train = Dataset.from_arrays(xs[:200], ys[:200])  # 200 / 32: a padded last chunk too
    cfg = TrainConfig(epochs=2, batch_size=32, learning_rate=3e-3, num_classes=10)
    with config.lowering("rows"):
        looped = fit(model, train, None, cfg).variables
        stepwise = fit(model, train, None, dataclasses.replace(cfg, steps_per_call=1)).variables
    # The same steps, dropout keys and batches; only XLA's order of summation may differ.
    for a, b in zip(jax.tree.leaves(looped), jax.tree.leaves(stepwise), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_a_convolution_left_slow_in_the_loop_warns_and_trains_the_same(monkeypatch):
    """Should a convolution escape the canonical rewrite, fit says so (it used to fall back to
    one compiled step per call without a word) and its results do not change."""
    import jaxcnn.train.loop as loop

    xs, ys = digits()[:2]
    train = Dataset.from_arrays(xs[:64], ys[:64])
    cfg = TrainConfig(epochs=1, batch_size=32, learning_rate=3e-3, num_classes=10)
    want = fit(SmallCNN(), train, None, cfg).variables
    monkeypatch.setattr(loop, "loop_hurts_convolutions", lambda lowered, mesh: True)
    with pytest.warns(UserWarning, match="slow path inside a loop"):
        got = fit(SmallCNN(), train, None, cfg).variables
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
