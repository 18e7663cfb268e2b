"""Every loader, fed random and mutated bytes: a valid result or a clear, named error.

A clear error is a ValueError or an OSError (their subclasses included) whose message names
the file; anything else (a KeyError, an IndexError, a zipfile or pickle error, a crash deep in
NumPy) fails the test. The budget is the derandomized profile of tests/conftest.py.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st
from jaxcnn.audio.alignments import read_phn
from jaxcnn.audio.features import load_audio
from jaxcnn.text.datasets import read_labelled
from jaxcnn.text.embeddings import load_vectors
from jaxcnn.text.vocab import Vocabulary, build_vocabulary
from PIL import Image

from jaxcnn.vision.cifar import read_cifar_batch
from jaxcnn.vision.folder import load_image_folder
from jaxcnn.vision.idx import read_idx, write_idx

VOCAB = build_vocabulary(["the cat sat on the mat"])


def _idx(gz: bool) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x"
        write_idx(path, np.arange(24, dtype=np.uint8).reshape(2, 3, 4), compress=gz)
        return path.read_bytes()


def _cifar() -> bytes:
    # The test makes a pickle to feed the reader; the library never writes one.
    obj = {b"data": np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072), b"labels": [0, 1]}
    return pickle.dumps(obj, protocol=2)


def _wav() -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, np.linspace(-0.5, 0.5, 64), 16000, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def _png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(buf, format="PNG")
    return buf.getvalue()


def _vocab() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        VOCAB.save(Path(d) / "v.json")
        return (Path(d) / "v.json").read_bytes()


def _image_folder(path: Path) -> object:
    # the bytes go to root/a/x.png; the loader reads the root
    root = path.parent / "root"
    (root / "a").mkdir(parents=True, exist_ok=True)
    path.replace(root / "a" / "x.png")
    return load_image_folder(root, channels=3)


# name -> (file name, valid bytes to mutate, loader)
LOADERS: dict[str, tuple[str, bytes, Callable[[Path], object]]] = {
    "idx": ("t.idx", _idx(False), read_idx),
    "idx_gz": ("t.idx.gz", _idx(True), read_idx),
    "cifar": ("data_batch_1", _cifar(), read_cifar_batch),
    "wav": ("a.wav", _wav(), load_audio),
    "phn": ("a.phn", b"0 10 h#\n10 20 aa\n20 30 h#\n", read_phn),
    "vectors": ("v.txt", b"2 2\nthe 0.1 0.2\ncat 0.3 -0.4\n", lambda p: load_vectors(p, VOCAB)),
    "labelled": ("l.tsv", "a\tone two\nb\tthree \u00e9\n".encode(), read_labelled),
    "vocab": ("vocab.json", _vocab(), Vocabulary.load),
    "image_folder": ("x.png", _png(), _image_folder),
}


@st.composite
def _mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["set", "cut", "insert", "zero"]))
        if op == "set":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            data = data[:i]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            data[i:] = bytes(len(data) - i)
    return bytes(data)


def _clear_or_valid(name: str, content: bytes) -> None:
    file_name, _, load = LOADERS[name]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / file_name
        path.write_bytes(content)
        try:
            load(path)
        except (ValueError, OSError) as e:
            assert file_name in str(e), f"{type(e).__name__} names no file: {e}"


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_the_valid_seed_loads(name):
    file_name, seed, load = LOADERS[name]
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / file_name).write_bytes(seed)
        load(Path(d) / file_name)


@pytest.mark.parametrize("name", sorted(LOADERS))
@given(data=st.data())
def test_random_and_mutated_bytes(name, data):
    seed = LOADERS[name][1]
    content = data.draw(st.one_of(st.binary(max_size=256), _mutated(seed)), label="content")
    _clear_or_valid(name, content)


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_a_folder_given_as_the_file(name, tmp_path):
    file_name, _, load = LOADERS[name]
    (tmp_path / file_name).mkdir()
    if name == "image_folder":
        pytest.skip("the image loader takes a folder")
    with pytest.raises((ValueError, OSError), match=file_name.replace(".", r"\.")):
        load(tmp_path / file_name)


def test_gzip_mutation_reaches_the_gzip_checks():
    # A sanity check of the strategy: a cut gzip is reported as such, by name.
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.idx.gz"
        path.write_bytes(gzip.compress(_idx(False))[:-6])
        with pytest.raises(ValueError, match=r"t\.idx\.gz must be a complete gzip file"):
            read_idx(path)


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_a_path_that_is_not_a_path(name):
    # was pathlib's TypeError naming neither the loader nor the argument
    with pytest.raises(TypeError, match=r"must be a str or os\.PathLike, got NoneType"):
        (load_image_folder if name == "image_folder" else LOADERS[name][2])(None)


def test_a_truncated_wav_is_refused_not_read_short(tmp_path):
    # libsndfile returned the samples present (21 of 64) without a word
    seed = LOADERS["wav"][1]
    path = tmp_path / "a.wav"
    path.write_bytes(seed[: len(seed) // 2])
    with pytest.raises(ValueError, match=r"a\.wav must be a complete WAV file"):
        load_audio(path)
    path.write_bytes(seed + b"\x00")  # a trailing byte past the data chunk is not truncation
    assert load_audio(path).shape == (64,)
