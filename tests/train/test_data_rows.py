"""Dataset construction, the int32 label range, shuffling and index matrices, value by value
(hand-worked numbers and NumPy), with every error message in full: the cases mutation testing
(docs/mutation.md) showed test_data_config.py left open."""

from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.train import Dataset
from jaxcnn.train.data import epoch_order, eval_index_matrix, take_rows, train_index_matrix


def _take(arrays, idx):
    return arrays


def test_dataset_sizes_and_defaults():
    ds = Dataset(arrays={}, take=_take, size=1)  # the smallest data set
    assert ds.size == 1 and ds.streamed is False
    assert Dataset(arrays={}, take=_take, size=np.int64(3)).size == 3  # NumPy ints are ints


@pytest.mark.parametrize("maker", [Dataset.from_arrays, Dataset.streaming])
def test_both_constructors_keep_rows_labels_and_weights(maker):
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.array([3, 1, 0, 2], np.int64)
    ds = maker(x, y)
    assert ds.size == 4 and type(ds.size) is int and ds.take is take_rows
    assert ds.streamed is (maker is Dataset.streaming)
    assert sorted(ds.arrays) == ["x", "y"]  # no weight given, none stored
    assert np.asarray(ds.arrays["y"]).dtype == np.int32
    np.testing.assert_array_equal(ds.arrays["y"], [3, 1, 0, 2])
    np.testing.assert_array_equal(ds.arrays["x"], x)
    weighted = maker(x, y, [0, 1, 0.5, 2])
    assert np.asarray(weighted.arrays["weight"]).dtype == np.float32
    np.testing.assert_array_equal(weighted.arrays["weight"], [0, 1, 0.5, 2])
    batch = ds.take(ds.arrays, jnp.array([2, 2, 0], jnp.int32))
    np.testing.assert_array_equal(batch["x"], x[[2, 2, 0]])
    np.testing.assert_array_equal(batch["y"], [0, 0, 3])


def test_streaming_keeps_the_callers_array_and_from_arrays_moves_it_to_the_device():
    x = np.zeros((3, 2), np.float32)
    assert Dataset.streaming(x, np.zeros(3, np.int32)).arrays["x"] is x
    assert isinstance(Dataset.from_arrays(x, np.zeros(3, np.int32)).arrays["x"], jnp.ndarray)


def test_labels_of_rank_two_and_the_int32_edges():
    x = np.zeros((2, 5), np.float32)
    ds = Dataset.from_arrays(x, np.ones((2, 7), np.int16))
    assert ds.arrays["y"].shape == (2, 7)
    edges = np.array([-(2**31), 2**31 - 1], np.int64)  # the extremes int32 holds
    np.testing.assert_array_equal(Dataset.streaming(x, edges).arrays["y"], edges)
    np.testing.assert_array_equal(
        Dataset.streaming(x, np.array([0, 2**31 - 1], np.uint32)).arrays["y"], [0, 2**31 - 1]
    )
    # no labels: the size check speaks (not NumPy's "zero-size array" from the range check)
    with pytest.raises(ValueError, match="^Dataset: size must be a positive int, got 0$"):
        Dataset.streaming(np.zeros((0, 5)), np.zeros((0,), np.int64))


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array([0, 2**31], np.int64), "got labels from 0 to 2147483648"),
        (np.array([-(2**31) - 1, 0], np.int64), "got labels from -2147483649 to 0"),
        (np.array([2**32 + 3, 1], np.int64), "got labels from 1 to 4294967299"),
        (np.array([5, 2**31], np.uint32), "got labels from 5 to 2147483648"),
        (np.array([1, 2**63], np.uint64), "got labels from 1 to 9223372036854775808"),
    ],
)
def test_labels_beyond_int32_are_refused_before_the_cast(y, message):
    with pytest.raises(
        ValueError, match="^" + re.escape("Dataset.streaming: y must fit in int32, " + message)
    ):
        Dataset.streaming(np.zeros((2, 1)), y)


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (
            lambda: Dataset(arrays={}, take=_take, size=2.0),
            ValueError,
            "Dataset: size must be a positive int, got 2.0",
        ),
        (
            lambda: Dataset(arrays={}, take=_take, size=-1),
            ValueError,
            "Dataset: size must be a positive int, got -1",
        ),
        (
            lambda: Dataset(arrays={}, take=3, size=1),
            TypeError,
            "Dataset: take must be callable, got int",
        ),
        (
            lambda: Dataset.streaming(np.zeros((2, 1)), np.zeros(2)),
            ValueError,
            "Dataset.streaming: y must have an integer dtype, got float64",
        ),
        (
            lambda: Dataset.from_arrays(np.zeros((2, 1)), np.zeros((2, 1, 1), np.int32)),
            ValueError,
            "Dataset.from_arrays: y must have rank 1 (N,) or 2 (N, L), got shape (2, 1, 1)",
        ),
        (
            lambda: Dataset.from_arrays(np.zeros((2, 1)), np.int32(3)),
            ValueError,
            "Dataset.from_arrays: y must have rank 1 (N,) or 2 (N, L), got shape ()",
        ),
        (
            lambda: Dataset.streaming({"a": np.zeros((2, 1)), "b": np.zeros(3)}, np.zeros(2, int)),
            ValueError,
            "Dataset.streaming: x must have leading axis N=2 like y, got shape (3,)",
        ),
        (
            lambda: Dataset.streaming(np.zeros((2, 1)), np.zeros(2, int), np.ones((2, 1))),
            ValueError,
            "Dataset.streaming: weight must have shape (2,), got (2, 1)",
        ),
    ],
)
def test_error_messages_in_full(call, exc, message):
    with pytest.raises(exc, match="^" + re.escape(message) + "$"):
        call()


def test_epoch_order_depends_on_seed_epoch_and_bucket_only():
    base = epoch_order(5, 2, 50)
    assert base.dtype == np.int32 and base.shape == (50,)
    np.testing.assert_array_equal(np.sort(base), np.arange(50))
    np.testing.assert_array_equal(base, epoch_order(5, 2, 50, bucket=0))  # bucket 0 by default
    others = [epoch_order(5, 2, 50, 1), epoch_order(5, 3, 50), epoch_order(6, 2, 50)]
    assert all(not np.array_equal(base, o) for o in others)


def test_train_index_matrix_is_the_epoch_order_cut_into_whole_batches():
    for size, batch, bucket in [(10, 3, 0), (12, 4, 2), (7, 7, 0), (5, 1, 1)]:
        m = train_index_matrix(9, 4, size, batch, bucket)
        steps = size // batch
        assert m.shape == (steps, batch) and m.dtype == np.int32
        np.testing.assert_array_equal(m.ravel(), epoch_order(9, 4, size, bucket)[: steps * batch])
    np.testing.assert_array_equal(
        train_index_matrix(9, 4, 10, 3), train_index_matrix(9, 4, 10, 3, 0)
    )


def test_eval_index_matrix_by_hand():
    idx, valid = eval_index_matrix(5, 2)
    np.testing.assert_array_equal(idx, [[0, 1], [2, 3], [4, 0]])
    np.testing.assert_array_equal(valid, [[1, 1], [1, 1], [1, 0]])
    assert idx.dtype == np.int32 and valid.dtype == np.float32
    idx, valid = eval_index_matrix(4, 2)  # whole batches: no padding row
    np.testing.assert_array_equal(idx, [[0, 1], [2, 3]])
    np.testing.assert_array_equal(valid, np.ones((2, 2)))
    idx, valid = eval_index_matrix(1, 3)
    np.testing.assert_array_equal(idx, [[0, 0, 0]])
    np.testing.assert_array_equal(valid, [[1, 0, 0]])
