"""Transfer: read another run's checkpoint, restore a subset by path, extract layer features."""

import flax.linen as nn
import jax
import numpy as np
import pytest

from jaxcnn.train import TrainConfig, fit, init_variables
from jaxcnn.train.checkpoint import leaves_equal
from jaxcnn.train.transfer import extract_features, load_variables, restore_subset
from tests.train.helpers import MLP, SmallCNN, digit_sets, digits


class FiveWayMLP(nn.Module):
    """Same trunk as MLP(hidden=16), another head: (N, 8, 8, 1) -> (N, 5)."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.relu(nn.Dense(16)(x.reshape(x.shape[0], -1)))
        return nn.Dense(5)(x)


def test_restore_a_subset_from_another_runs_checkpoint(tmp_path):
    train, _ = digit_sets(n_train=256)
    source = fit(
        MLP(hidden=16), train, None, TrainConfig(epochs=1, batch_size=64), workdir=tmp_path
    )
    loaded = load_variables(tmp_path)
    assert leaves_equal(loaded, source.variables)

    target = init_variables(FiveWayMLP(), train, seed=9)["params"]
    got = restore_subset(target, loaded["params"], ("Dense_0/*",))
    assert leaves_equal(got["Dense_0"], source.variables["params"]["Dense_0"])
    assert leaves_equal(got["Dense_1"], target["Dense_1"])  # the new head is left alone
    with pytest.raises(
        ValueError,
        match=r"restore_subset: source 'Dense_1/bias' must have shape \(5,\), got \(10,\)",
    ):
        restore_subset(target, loaded["params"], ("Dense_1/*",))
    with pytest.raises(
        ValueError, match=r"restore_subset: pattern 'Conv_\*' must match a parameter path"
    ):
        restore_subset(target, loaded["params"], ("Conv_*",))
    with pytest.raises(FileNotFoundError, match="load_variables: workdir must hold a checkpoint"):
        load_variables(tmp_path / "nothing")


def test_extract_features_equals_the_layer_computed_by_hand():
    x = digits()[0][:5]
    variables = SmallCNN().init(jax.random.key(0), x)
    got = extract_features(SmallCNN(), variables, x, "Conv_0")
    p = variables["params"]["Conv_0"]
    want = jax.lax.conv_general_dilated(
        x, p["kernel"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    ) + p["bias"].reshape(1, 1, 1, -1)
    assert got.shape == (5, 8, 8, 16)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(
        ValueError, match=r"extract_features: layer must be one of \['Conv_0', 'Dense_0'"
    ):
        extract_features(SmallCNN(), variables, x, "Conv_9")


def test_restore_subset_casts_to_the_target_dtype():
    # float16 source leaves replaced float32 ones as float16, changing the model's dtypes.
    target = {"Dense_0": {"kernel": np.zeros((3, 2), np.float32), "bias": np.zeros(2, np.float32)}}
    kernel = np.arange(6, dtype=np.float16).reshape(3, 2) / 4
    source = {"Dense_0": {"kernel": kernel, "bias": np.ones(2, np.float64)}}
    got = restore_subset(target, source, ("Dense_0/*",))
    assert got["Dense_0"]["kernel"].dtype == np.float32
    assert got["Dense_0"]["bias"].dtype == np.float32
    np.testing.assert_array_equal(got["Dense_0"]["kernel"], kernel.astype(np.float32))
    np.testing.assert_array_equal(got["Dense_0"]["bias"], np.ones(2, np.float32))
