"""Image folders: classes from sub-folders; mixed sizes and wrong colour modes are errors."""

import numpy as np
import pytest
from PIL import Image

from jaxcnn.vision import load_image_folder


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_reads_classes_in_sorted_order(tmp_path):
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    _save(tmp_path / "b_dog" / "1.png", rgb)
    _save(tmp_path / "a_cat" / "1.png", 255 - rgb)
    _save(tmp_path / "a_cat" / "2.png", rgb)
    (tmp_path / "a_cat" / "notes.txt").write_text("ignored")
    x, y, names = load_image_folder(tmp_path)
    assert names == ("a_cat", "b_dog")
    assert x.shape == (3, 4, 6, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 0, 1])
    np.testing.assert_allclose(x[2], rgb / 255.0, rtol=1e-6)  # PNG is lossless


def test_mixed_sizes(tmp_path):
    _save(tmp_path / "a" / "1.png", np.zeros((4, 6, 3), np.uint8))
    _save(tmp_path / "a" / "2.png", np.zeros((5, 6, 3), np.uint8))
    with pytest.raises(
        ValueError, match=r"every image must have the size of .* \(4, 6\), got \(5, 6\)"
    ):
        load_image_folder(tmp_path)


def test_grayscale_where_rgb_expected(tmp_path):
    _save(tmp_path / "a" / "1.png", np.zeros((4, 6), np.uint8))
    with pytest.raises(ValueError, match=r"must be RGB \(channels=3\), got a grayscale image"):
        load_image_folder(tmp_path)
    x, _, _ = load_image_folder(tmp_path, channels=1)
    assert x.shape == (1, 4, 6, 1)


def test_other_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="root must be a folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="must hold class folders"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="channels must be 1 or 3, got 2"):
        load_image_folder(tmp_path, channels=2)
    with pytest.raises(TypeError, match="channels must be an int, got float 3.0"):
        load_image_folder(tmp_path, channels=3.0)
    with pytest.raises(TypeError, match="channels must be an int, got bool True"):
        load_image_folder(tmp_path, channels=True)
    _save(tmp_path / "a" / "1.png", np.zeros((4, 6, 3), np.uint8))
    with pytest.raises(ValueError, match=r"must be grayscale \(channels=1\), got mode RGB"):
        load_image_folder(tmp_path, channels=1)


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
    # Taking CMYK's first three channels as RGB read a white image as black.
    (tmp_path / "a").mkdir()
    Image.new("CMYK", (4, 6), (0, 0, 0, 0)).save(tmp_path / "a" / "white.jpg")
    Image.new("CMYK", (4, 6), (0, 255, 255, 0)).save(tmp_path / "a" / "red.jpg")
    x, _, _ = load_image_folder(tmp_path, channels=3)
    assert x.shape == (2, 6, 4, 3)
    np.testing.assert_allclose(x[1], 1.0, atol=0.02)  # sorted: white.jpg second
    np.testing.assert_allclose(x[0].mean(axis=(0, 1)), [1.0, 0.0, 0.0], atol=0.02)


@pytest.mark.parametrize("mode", ["I;16", "I;16L", "I;16B"])
def test_16_bit_images_are_scaled_to_0_1(tmp_path, monkeypatch, mode):
    # I;16B reads as a big-endian ">u2" array, which != np.uint16: it was divided by 1.
    values = (np.arange(4 * 6, dtype=np.uint16) * 2849).reshape(4, 6)  # up to 65527
    path = tmp_path / "a" / "1.png"
    _save(path, values)  # a real 16-bit PNG
    with Image.open(path) as im:
        assert im.mode == "I;16"
    if mode != "I;16":  # PNG reads back as I;16: give the reader the other byte orders directly
        dtype = ">u2" if mode == "I;16B" else "<u2"
        image = Image.frombytes(mode, (6, 4), values.astype(dtype).tobytes())
        monkeypatch.setattr(Image, "open", lambda _path: image)
    x, _, _ = load_image_folder(tmp_path, channels=1)
    np.testing.assert_allclose(x[0, ..., 0], values / 65535.0, rtol=1e-6)
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    import zlib

    from jaxcnn.vision import folder

    # A few-KB PNG declaring 8000 x 8000 grey pixels (64 MB decoded), under PIL's own limits.
    side = 8000
    row = b"\0" + bytes(side)
    body = zlib.compress(row * 200, 9)  # only 200 rows: PIL checks the header size first

    def chunk(kind, data):
        crc = zlib.crc32(kind + data).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + kind + data + crc

    ihdr = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bomb.png").write_bytes(png)
    with pytest.raises(ValueError, match=r"bomb\.png must have at most \d+ pixels, got 8000 x"):
        folder.load_image_folder(tmp_path, channels=1)
