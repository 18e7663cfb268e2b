"""fit runs a CNN's chunk of steps as one lax.scan on the CPU, with the step-by-step results."""

import flax.linen as nn
import jax
import numpy as np
import pytest

from jaxcnn import layers as L
from jaxcnn.train import Dataset, TrainConfig, fit, loop
from tests.train.helpers import SmallCNN, digits


class RowsCNN(nn.Module):
    """(N, 8, 8, 1) -> (N, 10) through jaxcnn's layers: a rows-lowered conv and a lax one."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = L.Conv2D(8, 3, padding="SAME", activation="relu", lowering="rows")(x)
        x = L.MaxPool(2)(x)
        x = L.Conv2D(8, 3, activation="relu", lowering="lax")(x)
        x = nn.Dropout(0.1, deterministic=not train)(x)
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


@pytest.mark.parametrize("model", [SmallCNN(), RowsCNN()], ids=["flax_conv", "jaxcnn_layers"])
def test_a_cnn_chunk_is_one_loop_with_the_step_by_step_results(model, monkeypatch):
    xs, ys = digits()[:2]
    train = Dataset.from_arrays(xs[:200], ys[:200])  # 200 / 32: a padded last chunk too
    cfg = TrainConfig(epochs=2, batch_size=32, learning_rate=3e-3, num_classes=10)
    verdicts = []
    check = loop.loop_hurts_convolutions

    def recording(lowered, mesh):
        verdicts.append(check(lowered, mesh))
        return verdicts[-1]

    monkeypatch.setattr(loop, "loop_hurts_convolutions", recording)
    looped = fit(model, train, None, cfg).variables
    # Every bucket's chunk keeps its scan: no convolution is left for XLA's slow loop path.
    assert verdicts and not any(verdicts)

    monkeypatch.setattr(loop, "loop_hurts_convolutions", lambda lowered, mesh: True)
    stepwise = fit(model, train, None, cfg).variables
    # The same steps, dropout keys and batches; only XLA's order of summation may differ.
    for a, b in zip(jax.tree.leaves(looped), jax.tree.leaves(stepwise), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
