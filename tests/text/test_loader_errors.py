"""Text loaders: a bad file fails with a ValueError naming the file (and the line)."""

from __future__ import annotations

import json

import pytest
from jaxcnn.text.datasets import read_labelled
from jaxcnn.text.embeddings import load_vectors
from jaxcnn.text.vocab import Vocabulary, build_vocabulary

VOCAB = build_vocabulary(["the cat sat"])


@pytest.mark.parametrize(
    "content, match",
    [
        (b"the 0.1 0.2\ncat \xe9 0.3\n", r"v\.txt must be UTF-8 text, got byte 0xe9 on line 2"),
        ("1\u00b2 2\nthe 0.1 0.2\n".encode(), r"line 2 of .*v\.txt must have a word and 1"),
    ],
)
def test_vectors(tmp_path, content, match):
    (tmp_path / "v.txt").write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load_vectors(tmp_path / "v.txt", VOCAB)


def test_labelled_text_not_utf8(tmp_path):
    (tmp_path / "l.tsv").write_bytes(b"a\tgood\nb\tbad \xff\n")
    with pytest.raises(ValueError, match=r"l\.tsv must be UTF-8 text, got byte 0xff on line 2"):
        read_labelled(tmp_path / "l.tsv")


def test_labelled_text_keeps_crlf_lines(tmp_path):
    (tmp_path / "l.tsv").write_bytes(b"a\tone two\r\nb\tthree\r\n")
    examples, names, _ = read_labelled(tmp_path / "l.tsv")
    assert [e.text for e in examples] == ["one two", "three"] and names == ("a", "b")


@pytest.mark.parametrize(
    "content, match",
    [
        ('{"format": "jaxcnn-vocab-1", "tokens": ["<pad>"', r"voc\.json is not valid JSON"),
        (None, r"voc\.json counts must be ints >= 0, got \['3'\]"),
        (None, r"voc\.json counts must be ints >= 0, got \[-1\]"),
        (None, r"voc\.json tokens must be strings, got \[7\]"),
        (None, r"voc\.json does not hold a valid vocabulary: .*unique"),
    ],
)
def test_vocab_json(tmp_path, content, match):
    path = tmp_path / "voc.json"
    VOCAB.save(path)
    obj = json.loads(path.read_text())
    if content is None:
        if "'3'" in match:
            obj["counts"][2] = "3"
        elif "-1" in match:
            obj["counts"][2] = -1
        elif "\\[7\\]" in match:
            obj["tokens"][2] = 7
        else:
            obj["tokens"][3] = obj["tokens"][2]
        content = json.dumps(obj)
    elif "tokens" in content:
        content = path.read_text()[: len(path.read_text()) // 2]  # truncated
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        Vocabulary.load(path)
