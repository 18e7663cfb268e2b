"""IDX reader/writer: round trips, the real Fashion-MNIST files, and every malformed-file error."""

import gzip
import os

import numpy as np
import pytest

from jaxcnn.vision import idx

FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_round_trip(tmp_path, dtype, name):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 5, 4)) * 100).astype(dtype)
    idx.write_idx(tmp_path / name, array)
    back = idx.read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left behind


def test_header_bytes_match_the_format(tmp_path):
    # The published layout: 00 00 08 01, then the count big-endian, then the bytes.
    idx.write_idx(tmp_path / "l", np.array([7, 2, 9], np.uint8))
    assert (tmp_path / "l").read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 9])


@pytest.mark.skipif(not os.path.exists(FASHION), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_test_split():
    images, labels = idx.load_fashion_mnist(FASHION, "test")
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.float32
    assert labels.shape == (10000,) and labels.dtype == np.int32
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 1000))  # balanced test set


def test_truncated_file(tmp_path):
    idx.write_idx(tmp_path / "x", np.zeros((4, 3, 3), np.uint8))
    raw = (tmp_path / "x").read_bytes()
    (tmp_path / "x").write_bytes(raw[:-5])
    with pytest.raises(ValueError, match=r"read_idx: .* must be 52 bytes .*got 47 \(truncated\)"):
        idx.read_idx(tmp_path / "x")
    (tmp_path / "y.gz").write_bytes(gzip.compress(raw)[:-10])
    with pytest.raises(ValueError, match="must be a complete gzip file"):
        idx.read_idx(tmp_path / "y.gz")
    (tmp_path / "z").write_bytes(raw[:6])
    with pytest.raises(ValueError, match="must hold 3 dimension sizes"):
        idx.read_idx(tmp_path / "z")


def test_bad_magic_and_code(tmp_path):
    (tmp_path / "m").write_bytes(b"\x01\x00\x08\x01\x00\x00\x00\x00")
    with pytest.raises(ValueError, match=r"must start with bytes 00 00 \(IDX magic\), got 01 00"):
        idx.read_idx(tmp_path / "m")
    (tmp_path / "c").write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x00")
    with pytest.raises(ValueError, match="type code must be one of .* got 0x7"):
        idx.read_idx(tmp_path / "c")


def test_mislabelled_pair(tmp_path):
    idx.write_idx(tmp_path / "i", np.zeros((5, 2, 2), np.uint8))
    idx.write_idx(tmp_path / "l", np.zeros((4,), np.uint8))
    with pytest.raises(ValueError, match=r"labels must have one entry per image \(5\), got 4"):
        idx.load_idx_pair(tmp_path / "i", tmp_path / "l")
    with pytest.raises(ValueError, match=r"images must have rank 3 \(N, H, W\), got shape \(4,\)"):
        idx.load_idx_pair(tmp_path / "l", tmp_path / "l")


def test_missing_dataset_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        idx.load_fashion_mnist(tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        idx.load_fashion_mnist(tmp_path, "valid")


def test_writer_rejects_unknown_dtype(tmp_path):
    with pytest.raises(TypeError, match="write_idx: array dtype must be one of .* got uint16"):
        idx.write_idx(tmp_path / "u", np.zeros(3, np.uint16))


def test_corrupt_gzip_body_is_a_value_error(tmp_path):
    # A damaged deflate stream raises zlib.error, not BadGzipFile: it must still name the file.
    idx.write_idx(tmp_path / "a.gz", np.arange(100, dtype=np.uint8).reshape(10, 10))
    raw = bytearray((tmp_path / "a.gz").read_bytes())
    raw[12:30] = bytes(b ^ 0xFF for b in raw[12:30])
    (tmp_path / "b.gz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="must be a complete gzip file"):
        idx.read_idx(tmp_path / "b.gz")


def test_pair_dtypes(tmp_path):
    # Float labels were silently truncated to int32; float images were later divided by 255.
    idx.write_idx(tmp_path / "i", np.zeros((3, 2, 2), np.uint8))
    idx.write_idx(tmp_path / "f", np.zeros((3, 2, 2), np.float32))
    idx.write_idx(tmp_path / "l", np.array([0, 1, 2], np.uint8))
    idx.write_idx(tmp_path / "lf", np.array([0.0, 1.7, 2.0], np.float32))
    images, labels = idx.load_idx_pair(tmp_path / "i", tmp_path / "l")
    assert images.dtype == np.uint8 and labels.dtype == np.int32
    with pytest.raises(ValueError, match="load_idx_pair: labels must have an integer dtype, got f"):
        idx.load_idx_pair(tmp_path / "i", tmp_path / "lf")
    with pytest.raises(ValueError, match="load_idx_pair: images must be uint8, got float32"):
        idx.load_idx_pair(tmp_path / "f", tmp_path / "l")


def test_write_is_synced_before_the_rename(tmp_path, monkeypatch):
    # Without fsync the rename can reach the disk before the data: an empty file after a crash.
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(idx.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(
        idx.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))
    )
    idx.write_idx(tmp_path / "x", np.zeros((2, 2), np.uint8))
    assert events == ["fsync", "replace", "fsync"]  # the file, then its folder (the rename)
    np.testing.assert_array_equal(idx.read_idx(tmp_path / "x"), np.zeros((2, 2), np.uint8))


def test_header_sizes_are_multiplied_as_python_ints(tmp_path):
    # 65536**4 wrapped to 0 in np.prod(int64): a 20-byte file passed as an empty array.
    (tmp_path / "x").write_bytes(bytes([0, 0, 8, 4]) + (65536).to_bytes(4, "big") * 4)
    with pytest.raises(ValueError, match=r"must be \d{20,} bytes .*truncated"):
        idx.read_idx(tmp_path / "x")


def test_gzip_bomb_is_not_decompressed_past_the_declared_size(tmp_path, monkeypatch):
    import gzip

    header = bytes([0, 0, 8, 1]) + (4).to_bytes(4, "big")
    bomb = gzip.compress(header + bytes(4) + bytes(50_000_000))  # ~50 KB on disk
    (tmp_path / "b.gz").write_bytes(bomb)
    seen = []
    real = idx.zlib.decompressobj

    class Spy:
        def __init__(self, *a, **k):
            self.inner = real(*a, **k)

        def decompress(self, data, max_length=0):
            out = self.inner.decompress(data, max_length)
            seen.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self.inner, name)

    monkeypatch.setattr(idx.zlib, "decompressobj", Spy)
    with pytest.raises(ValueError, match=r"b\.gz must be 12 bytes .*has trailing bytes"):
        idx.read_idx(tmp_path / "b.gz")
    assert sum(seen) <= 1024  # a header's worth, never the 50 MB
    monkeypatch.undo()
    huge = gzip.compress(bytes([0, 0, 8, 1]) + (2**32 - 1).to_bytes(4, "big") + bytes(10))
    (tmp_path / "h.gz").write_bytes(huge)
    with pytest.raises(ValueError, match=r"h\.gz header must declare at most 4294967296 bytes"):
        idx.read_idx(tmp_path / "h.gz")


def test_folder_given_as_a_file(tmp_path):
    with pytest.raises(IsADirectoryError, match="must be an IDX file, got a folder"):
        idx.read_idx(tmp_path)
