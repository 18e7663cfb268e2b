"""CIFAR python batches: a file written in the real format, and refusal of foreign pickles."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from jaxcnn.vision import cifar


def _write_batch(path, n=4, labels_key=b"labels", n_labels=None):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = list(range(n_labels if n_labels is not None else n))
    obj = {
        b"batch_label": b"testing batch 1 of 1",
        labels_key: labels,
        b"data": data,
        b"filenames": [b"f%d.png" % i for i in range(n)],
    }
    path.write_bytes(pickle.dumps(obj, protocol=2))  # what cPickle wrote for the real files
    return data, labels


def test_batch_layout_is_channel_major(tmp_path):
    data, labels = _write_batch(tmp_path / "test_batch")
    images, got = cifar.read_cifar_batch(tmp_path / "test_batch")
    assert images.shape == (4, 32, 32, 3) and images.dtype == np.uint8
    # Pixel (row 2, col 5) of channel G is entry 1024 + 2 * 32 + 5 of the row.
    assert images[1, 2, 5, 1] == data[1, 1024 + 2 * 32 + 5]
    assert images[3, 31, 0, 2] == data[3, 2048 + 31 * 32]
    np.testing.assert_array_equal(got, labels)


def test_load_cifar10_and_100(tmp_path):
    for i in range(1, 6):
        _write_batch(tmp_path / f"data_batch_{i}", n=2)
    _write_batch(tmp_path / "test_batch", n=3)
    x, y = cifar.load_cifar(tmp_path, "train")
    assert x.shape == (10, 32, 32, 3) and x.dtype == np.float32 and y.shape == (10,)
    c100 = tmp_path / "c100"
    c100.mkdir()
    _write_batch(c100 / "test", n=3, labels_key=b"fine_labels")
    x, y = cifar.load_cifar(c100, "test")
    assert x.shape == (3, 32, 32, 3)


def test_refuses_arbitrary_globals(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (tmp_path / "b").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(ValueError, match=r"must be a CIFAR python batch, got global .*system"):
        cifar.read_cifar_batch(tmp_path / "b")


def test_bad_batches(tmp_path):
    _write_batch(tmp_path / "b", n=4, n_labels=3)
    with pytest.raises(
        ValueError, match=r"labels in .*/b must have one entry per image \(4\), got 3"
    ):
        cifar.read_cifar_batch(tmp_path / "b")
    # a batch of the wrong width: the message names the file (it named none)
    obj = {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}
    (tmp_path / "w").write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(ValueError, match=r"data in .*/w must have 3072 columns, got \(2, 100\)"):
        cifar.read_cifar_batch(tmp_path / "w")
    (tmp_path / "t").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="must be a CIFAR python batch"):
        cifar.read_cifar_batch(tmp_path / "t")
    with pytest.raises(FileNotFoundError, match="must hold CIFAR batches"):
        cifar.load_cifar(tmp_path / "nowhere")


def test_too_large_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    # The size check ran after read_bytes(), so a huge file was loaded into memory first.
    (tmp_path / "big").write_bytes(b"x" * 100)
    monkeypatch.setattr(cifar, "_MAX_BYTES", 10)

    def no_read(self):
        raise AssertionError(f"{self} was read before its size was checked")

    monkeypatch.setattr(Path, "read_bytes", no_read)
    with pytest.raises(ValueError, match="must be under 1 GiB, got 100 bytes"):
        cifar.read_cifar_batch(tmp_path / "big")


def test_damaged_pickle_with_an_unknown_codec_is_a_named_valueerror(tmp_path):
    obj = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]}
    raw = pickle.dumps(obj, protocol=2)
    assert b"latin1" in raw  # NumPy's array pickle encodes its bytes through a codec name
    (tmp_path / "data_batch_1").write_bytes(raw.replace(b"latin1", b"latinX"))
    with pytest.raises(ValueError, match=r"data_batch_1 must be a CIFAR python batch"):
        cifar.read_cifar_batch(tmp_path / "data_batch_1")
