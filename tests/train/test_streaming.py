"""Streamed data sets (host arrays or memory maps, one call's rows at a time) train, evaluate
and predict exactly like device-resident ones."""

import numpy as np
import pytest

from jaxcnn.train import Dataset, TrainConfig, evaluate, fit, predict
from jaxcnn.train.checkpoint import leaves_equal
from jaxcnn.train.data import take_rows
from jaxcnn.train.parallel import data_mesh, replicated
from jaxcnn.train.streaming import STREAM_EVAL_STEPS, call_inputs
from tests.train.helpers import MLP, SmallCNN, digits


def _pair(x, y):
    return Dataset.from_arrays(x, y), Dataset.streaming(x, y)


@pytest.mark.parametrize("model", [MLP(dropout=0.2), SmallCNN()], ids=["mlp", "cnn"])
def test_streamed_training_matches_device_training_exactly(model):
    # Both run whole lax.scan chunks (the CNN's convolutions canonicalised inside them).
    xt, yt, xe, ye = digits(512)
    config = TrainConfig(epochs=2, batch_size=32, steps_per_call=5, num_classes=10, seed=3)
    (dev_train, str_train), (dev_eval, str_eval) = _pair(xt, yt), _pair(xe, ye)
    on_device = fit(model, dev_train, dev_eval, config)
    streamed = fit(model, str_train, str_eval, config)
    assert leaves_equal(on_device.variables, streamed.variables)
    assert [h["train_loss"] for h in on_device.history] == [
        h["train_loss"] for h in streamed.history
    ]
    assert on_device.eval["accuracy"] == pytest.approx(streamed.eval["accuracy"], abs=1e-12)
    assert on_device.eval["confusion"] == streamed.eval["confusion"]


def test_streamed_evaluate_and_predict_cover_every_example_once():
    xt, yt, xe, ye = digits(256)
    variables = fit(MLP(), *_pair(xt, yt)[:1], None, TrainConfig(epochs=1, batch_size=32)).variables
    dev, streamed = _pair(xe, ye)
    # 1,541 examples in batches of 64: 25 batches, not a multiple of the 8 per streamed call.
    assert -(-dev.size // 64) % STREAM_EVAL_STEPS != 0
    a = evaluate(MLP(), variables, dev, batch_size=64)
    b = evaluate(MLP(), variables, streamed, batch_size=64)
    assert a["count"] == b["count"] == dev.size
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-6) and a["confusion"] == b["confusion"]
    np.testing.assert_array_equal(
        predict(MLP(), variables, dev, batch_size=64),
        predict(MLP(), variables, streamed, batch_size=64),
    )


def test_a_call_sends_only_its_own_rows_in_batch_order():
    xt, yt, _, _ = digits(300)
    streamed = Dataset.streaming(xt, yt)
    idx = np.random.default_rng(0).permutation(300)[:96].astype(np.int32).reshape(3, 32)
    rows, local = call_inputs(streamed, None, idx, replicated(data_mesh()))
    assert rows["x"].shape == (96, 8, 8, 1) and local.shape == (3, 32)
    for s in range(3):
        got = take_rows(rows, local[s])
        np.testing.assert_array_equal(np.asarray(got["x"]), xt[idx[s]])
        np.testing.assert_array_equal(np.asarray(got["y"]), yt[idx[s]])


def test_a_memory_map_streams(tmp_path):
    xt, yt, _, _ = digits(256)
    np.save(tmp_path / "x.npy", xt)
    x_map = np.load(tmp_path / "x.npy", mmap_mode="r")
    config = TrainConfig(epochs=3, batch_size=32, steps_per_call=3, learning_rate=1e-2)
    mapped = fit(MLP(), Dataset.streaming(x_map, yt), None, config)
    in_memory = fit(MLP(), Dataset.from_arrays(xt, yt), None, config)
    assert leaves_equal(mapped.variables, in_memory.variables)
    assert mapped.history[-1]["train_loss"] < mapped.history[0]["train_loss"]


def test_streaming_checks_its_arguments():
    x = np.zeros((10, 4), np.float32)
    with pytest.raises(ValueError, match=r"Dataset.streaming: x must have leading axis N=9"):
        Dataset.streaming(x, np.zeros(9, np.int32))
    with pytest.raises(ValueError, match=r"Dataset.streaming: y must have an integer dtype"):
        Dataset.streaming(x, np.zeros(10, np.float32))
    with pytest.raises(ValueError, match=r"Dataset.streaming: weight must have shape \(10,\)"):
        Dataset.streaming(x, np.zeros(10, np.int32), np.ones(3))
