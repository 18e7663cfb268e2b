"""A folder of images with one sub-folder per class (``root/<class>/<image>.png``)."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from types import ModuleType

import numpy as np

from jaxcnn import _checks
from jaxcnn._extras import optional_import

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
MAX_PIXELS = 2**25  # per image (5792 x 5792); a data set of larger images is not a folder
_OTHER_COLOUR = ("CMYK", "YCbCr", "LAB", "HSV")  # colour modes converted to RGB on reading


def load_image_folder(
    root: str | os.PathLike, *, channels: int = 3
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read every image under ``root/<class>/``, classes sorted by name.

    Args:
      root: a folder whose sub-folders are the classes.
      channels: 3 (RGB; an RGBA image loses its alpha, a CMYK or YCbCr one is converted) or 1
        (grayscale).

    Returns:
      ``(images (N, H, W, channels) float32 in [0, 1] NHWC, labels (N,) int32, class names)``.

    Raises:
      TypeError: ``root`` is not a str or os.PathLike (None, say).
      TypeError: ``channels`` not an int.
      FileNotFoundError: ``root`` is missing or holds no class folder with images.
      ValueError: ``channels`` not 1 or 3, images of different sizes, a grayscale image where RGB is
        expected (or the reverse), an image above `MAX_PIXELS`, or an unreadable file (each
        named).
      ImportError: Pillow is not installed (``pip install 'jaxcnn[images]'``).
    """
    _checks.path(root, "load_image_folder", "root")
    if not _checks.is_int(channels):  # 3.0 passed "in (1, 3)" and failed later as a slice
        raise TypeError(
            f"load_image_folder: channels must be an int, got {type(channels).__name__} "
            f"{channels!r}"
        )
    if channels not in (1, 3):
        raise ValueError(f"load_image_folder: channels must be 1 or 3, got {channels!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"load_image_folder: root must be a folder, got {root}")
    # Pillow is the images extra, imported here so `import jaxcnn.vision` needs only the core.
    image_module = optional_import("PIL.Image", "jaxcnn.vision.load_image_folder", "images")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    images, labels, first = [], [], None
    for label, name in enumerate(classes):
        for path in sorted((root / name).iterdir()):
            if path.suffix.lower() not in EXTENSIONS:
                continue
            image = _read(image_module, path, channels)
            if first is None:
                first = (path, image.shape)
            elif image.shape != first[1]:
                raise ValueError(
                    f"load_image_folder: every image must have the size of {first[0]} "
                    f"{first[1][:2]}, got {image.shape[:2]} in {path}"
                )
            images.append(image)
            labels.append(label)
    if not images:
        raise FileNotFoundError(
            f"load_image_folder: root must hold class folders with {EXTENSIONS} images, got none "
            f"in {root}"
        )
    return np.stack(images), np.asarray(labels, np.int32), tuple(classes)


def _read(image_module: ModuleType, path: Path, channels: int) -> np.ndarray:
    try:
        with image_module.open(path) as opened:
            # Checked before decoding: a few-KB PNG can declare gigapixels (a decompression
            # bomb); PIL only warns below twice its own, much larger, limit.
            if opened.size[0] * opened.size[1] > MAX_PIXELS:
                raise ValueError(
                    f"load_image_folder: {path} must have at most {MAX_PIXELS} pixels, got "
                    f"{opened.size[0]} x {opened.size[1]} (a decompression bomb?)"
                )
            opened.load()
            im = opened
            mode = im.mode
            if mode == "P":  # palette images: expand through the palette first
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                mode = im.mode
            elif mode in _OTHER_COLOUR:  # not RGB channels: the first three would be wrong
                im = im.convert("RGB")
                mode = im.mode
            array = np.asarray(im)
    # PIL reports a damaged file with any of these, not only OSError.
    except (
        OSError,
        SyntaxError,
        EOFError,
        struct.error,
        IndexError,
        image_module.DecompressionBombError,
    ) as err:
        raise ValueError(
            f"load_image_folder: {path} must be a readable image, got {type(err).__name__}: {err}"
        ) from err
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    gray = array.ndim == 2 or mode in ("L", "LA", "I", "I;16", "F", "1")
    if channels == 3 and gray:
        raise ValueError(
            f"load_image_folder: {path} must be RGB (channels=3), got a grayscale image "
            f"(mode {mode}); pass channels=1 or convert it"
        )
    if channels == 1 and not gray:
        raise ValueError(
            f"load_image_folder: {path} must be grayscale (channels=1), got mode {mode}; "
            f"pass channels=3"
        )
    if array.ndim == 2:
        array = array[..., None]
    array = array[..., :channels]  # drop alpha
    # by kind, not dtype equality: I;16B reads as big-endian ">u2", which != np.uint16
    scale = float(np.iinfo(array.dtype).max) if array.dtype.kind == "u" else 1.0
    return array.astype(np.float32) / scale
