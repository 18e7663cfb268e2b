"""experiments.images and experiments.inspect_cnn on their quick configs (8x8 digits)."""

import dataclasses

import numpy as np
import pytest
from jaxcnn.experiments import images, inspect_cnn

from tests.experiments.protocol_checks import assert_protocol_fields


@pytest.fixture(scope="module")
def images_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("images")
    # Two models keep the test cheap (compiles dominate); every model's shapes and parameter
    # counts are checked without compiling in tests/vision/test_models.py.
    config = dataclasses.replace(images.get_config(quick=True), epochs=1, models=("mlp", "cnn"))
    return config, workdir, images.run(config, str(workdir))


def test_rows_follow_the_contract_and_learn(images_run):
    config, workdir, summary = images_run
    rows = {r["model"]: r for r in summary["rows"]}
    assert list(rows) == ["mlp", "cnn"]
    # Parameter counts by hand: MLP 64*256+256 + 256*128+128 + 128*10+10 on 8x8 digits;
    # CNN 3*3*32+32 + 3*3*32*64+64 + (2*2*64)*10+10 (8x8 pooled twice to 2x2).
    assert rows["mlp"]["params"] == 64 * 256 + 256 + 256 * 128 + 128 + 1290
    assert rows["cnn"]["params"] == 320 + 18496 + 256 * 10 + 10
    for row in rows.values():
        assert row["train_examples_per_s"] > 0
        assert row["test_accuracy"] > 0.3  # ten classes: chance is 0.1, after one epoch
    saved = assert_protocol_fields(workdir, config)  # issue 19: one protocol for every model
    assert saved["rows"] == summary["rows"]
    assert set(saved["models"]) == {"mlp", "cnn"}
    text = (workdir / "results.md").read_text()
    assert "| mlp |" in text and "## Accuracy against parameters (sweep)" in text
    assert (workdir / "accuracy_vs_params.png").stat().st_size > 0


def test_rows_carry_intervals_and_the_baselines(images_run):
    config, workdir, summary = images_run
    (_, y_train), (_, y_test), _ = images.load_data(config)
    majority = np.bincount(y_train).argmax()
    assert summary["baseline"] == pytest.approx(np.mean(y_test == majority))
    linear = summary["baseline_linear"]
    assert {"model", "test_accuracy", "test_ci95"} <= set(linear)
    assert linear["test_accuracy"] > 0.8  # 8x8 digits are nearly linearly separable
    for row in [*summary["rows"], linear]:
        low, high = row["test_ci95"]
        assert low <= row["test_accuracy"] <= high and high - low < 0.2
    assert not any(r["did_not_learn"] for r in summary["rows"])
    text = (workdir / "results.md").read_text()
    assert "| baseline: majority class |" in text and "logistic regression on pixels" in text
    assert "Ranking of the families" in text
    assert (workdir / "learning_curves.png").stat().st_size > 0


def test_second_run_reuses_finished_models(images_run, monkeypatch):
    config, workdir, summary = images_run

    def no_training(*args, **kwargs):
        raise AssertionError("fit must not run again")

    import jaxcnn.train

    monkeypatch.setattr(jaxcnn.train, "fit", no_training)
    again = images.run(dataclasses.replace(config, models=("cnn",)), str(workdir))
    assert again["rows"][0] == summary["rows"][1]
    # Augmenting another model does not change the CNN's run; augmenting the CNN does.
    other = dataclasses.replace(config, models=("cnn",), augment=("resnet",))
    assert images.run(other, str(workdir))["rows"][0] == summary["rows"][1]
    erased = dataclasses.replace(other, erase=0.5)  # erasing only the augmented ResNet
    assert images.run(erased, str(workdir))["rows"][0] == summary["rows"][1]
    with pytest.raises(ValueError, match=r"images.run: config: erase must be a probability"):
        images.run(dataclasses.replace(erased, erase=2.0), str(workdir))
    with pytest.raises(AssertionError, match="fit must not run again"):
        images.run(dataclasses.replace(config, models=("cnn",), augment=("cnn",)), str(workdir))


def test_saved_variables_round_trip(images_run, tmp_path):
    _, workdir, _ = images_run
    variables = images.load_variables(workdir / "cnn" / "variables.npz")
    images.save_variables(tmp_path / "v.npz", variables)
    again = images.load_variables(tmp_path / "v.npz")
    for (ka, a), (kb, b) in zip(_flat(variables), _flat(again), strict=True):
        assert ka == kb
        np.testing.assert_array_equal(a, b)


def test_inspect_cnn_quick(images_run, tmp_path):
    images_config, workdir, _ = images_run
    config = dataclasses.replace(inspect_cnn.get_config(quick=True), images_workdir=str(workdir))
    config = dataclasses.replace(config, images=dataclasses.replace(config.images, epochs=1))
    summary = inspect_cnn.run(config, str(tmp_path))
    for name in ("filters", "activations", "occlusion", "receptive_field"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0
    assert len(summary["dead_filters"]) == 2  # two conv layers
    # The test images are normalised as the CNN's own training run did, not by the default.
    assert summary["trained_with"] == dataclasses.asdict(images_config)
    rf = summary["receptive_field"]
    # A unit of the second conv sees an 8x8 window (3x3 conv, 2x2 pool, 3x3 conv), clipped
    # to the 8x8 digit; the gradient's support must lie inside it.
    assert rf["window_rows"] == [1, 8] and rf["window_cols"] == [1, 8]
    if rf["gradient_rows"] is not None:
        assert rf["window_rows"][0] <= rf["gradient_rows"][0]
        assert rf["gradient_rows"][1] <= rf["window_rows"][1]


def test_bad_dataset_name():
    with pytest.raises(ValueError, match="load_data: dataset must be one of"):
        images.load_data(dataclasses.replace(images.get_config(True), dataset="cifar"))


def _flat(tree, prefix=""):
    for k, v in tree.items():
        if isinstance(v, dict):
            yield from _flat(v, f"{prefix}{k}/")
        else:
            yield f"{prefix}{k}", np.asarray(v)


@pytest.mark.parametrize(
    "model, damage",
    [
        ("mlp", lambda d: (d / "row.json").write_text('{"config": {"data')),  # truncated
        ("mlp", lambda d: (d / "row.json").write_bytes(b"")),  # empty
        ("mlp", lambda d: (d / "row.json").write_text("[1, 2]")),  # not a row
        ("cnn", lambda d: (d / "variables.npz").write_bytes(bytes(64))),  # zeroed
    ],
)
def test_damaged_cache_is_recomputed_with_a_warning(
    images_run, tmp_path, monkeypatch, model, damage
):
    import shutil

    import jaxcnn.train

    config, workdir, _ = images_run
    copy = tmp_path / "w"
    shutil.copytree(workdir, copy, ignore=shutil.ignore_patterns(".jaxcnn.lock"))
    damage(copy / model)

    def retrain(*args, **kwargs):
        raise AssertionError("retrained")

    monkeypatch.setattr(jaxcnn.train, "fit", retrain)
    with pytest.warns(UserWarning, match=f"damaged cache .*{model}"):
        with pytest.raises(AssertionError, match="retrained"):
            images.run(dataclasses.replace(config, models=(model,)), str(copy))


@pytest.mark.parametrize("field", ["models", "augment"])
def test_model_names_cannot_escape_the_workdir(tmp_path, field):
    config = dataclasses.replace(images.get_config(quick=True), **{field: ("../../x",)})
    with pytest.raises(ValueError, match=rf"config\.{field} must be among"):
        images.run(config, str(tmp_path / "a" / "b"))
    assert not (tmp_path / "x").exists() and not (tmp_path / "a" / "x").exists()


def test_results_files_are_strict_json(images_run):
    from tests.strict_json import assert_strict_json_files

    assert_strict_json_files(images_run[1], at_least=3)


def test_main_job_models_and_full_models():
    from jaxcnn.vision.models import MODELS

    assert images.get_config().models == ("mlp", "cnn", "resnet")
    assert images.full_config().models == MODELS  # every model at full size


def test_cli_sweep_none_trains_only_the_table(tmp_path, capsys):
    summary = images.main(
        ["--quick", "--epochs", "1", "--models", "mlp", "--sweep", "none",
         "--workdir", str(tmp_path)]
    )  # fmt: skip
    assert list(summary["config"]["sweep"]) == []
    assert [r["model"] for r in summary["rows"]] == ["mlp"]
    assert not (tmp_path / "mlp_w8").exists()  # no sweep member was trained
    assert "mlp " in capsys.readouterr().out
