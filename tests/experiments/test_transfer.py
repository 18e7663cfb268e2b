"""experiments.transfer (quick, digits 0-4 -> 5-9): frozen layers stay bit-identical."""

import dataclasses

import jax
import numpy as np
import pytest
from jaxcnn.experiments import transfer

from tests.strict_json import assert_strict_json_files


@pytest.fixture(scope="module")
def pretrained():
    config = transfer.get_config(quick=True)
    data = transfer.load_split(config)
    model, info = transfer.pretrain(config, data)
    return config, data, model, info


def test_frozen_convs_are_bit_identical_and_fine_tuning_moves_them(pretrained):
    config, data, model, info = pretrained
    subset = transfer.target_subset(data, config.per_class, seed=0)
    assert subset[0].shape[0] == 5 * config.per_class
    np.testing.assert_array_equal(np.bincount(subset[1]), [config.per_class] * 5)
    frozen = transfer.train_target(
        "freeze_convs", config, model, info["variables"], subset, data, 0
    )
    tuned = transfer.train_target("fine_tune", config, model, info["variables"], subset, data, 0)
    convs = transfer.conv_modules(info["variables"]["params"])
    assert len(convs) == 2
    for name in convs:
        for a, b in zip(
            jax.tree.leaves(frozen["variables"]["params"][name]),
            jax.tree.leaves(info["variables"]["params"][name]),
            strict=True,
        ):
            assert np.array_equal(np.asarray(a), np.asarray(b))  # bit for bit
        moved = jax.tree.leaves(tuned["variables"]["params"][name])
        start = jax.tree.leaves(info["variables"]["params"][name])
        assert any(not np.array_equal(a, b) for a, b in zip(moved, start, strict=True))
    head = [k for k in frozen["variables"]["params"] if k not in convs]
    start_head = frozen["initial"]["params"][head[0]]["kernel"]
    assert not np.array_equal(frozen["variables"]["params"][head[0]]["kernel"], start_head)
    # Only the head is trainable: (2*2*64)*5 + 5 on 8x8 digits.
    assert frozen["trainable_params"] == 256 * 5 + 5


def test_run_quick(tmp_path):
    # The trained methods are covered above; the cheap one exercises run()'s rows and files.
    config = dataclasses.replace(transfer.get_config(quick=True), methods=("features_logreg",))
    summary = transfer.run(config, str(tmp_path))
    names = [r["model"] for r in summary["rows"]]
    assert names == ["pretrain (source task)", "features_logreg"]
    assert summary["rows"][0]["test_accuracy"] > 0.5  # five digit classes, chance 0.2
    assert summary["rows"][1]["test_accuracy"] > 0.5  # frozen features transfer to 5-9
    assert summary["rows"][1]["params"] == 256 * 5 + 5  # logistic regression on 256 features
    assert (tmp_path / "results.md").exists()
    assert_strict_json_files(tmp_path)
