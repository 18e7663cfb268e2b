"""Tokeniser and vocabulary: against a Counter-based reference, JSON round trip, errors."""

import collections
import json

import numpy as np
import pytest
from jaxcnn.text.vocab import PAD_ID, UNK_ID, Vocabulary, build_vocabulary, tokenize

TEXTS = ["The dog barked.", "the cat, the dog!", "A dog's bark; loud"]


def test_tokenize_lowercases_and_splits_punctuation():
    assert tokenize("A dog's bark, LOUD.") == ["a", "dog's", "bark", ",", "loud", "."]
    assert tokenize("(or once living)") == ["(", "or", "once", "living", ")"]
    assert tokenize("") == [] and tokenize("   \t") == []


def test_build_matches_counter_reference():
    counts = collections.Counter(t for s in TEXTS for t in tokenize(s))
    vocab = build_vocabulary(TEXTS, min_freq=2)
    want = sorted((w for w, c in counts.items() if c >= 2), key=lambda w: (-counts[w], w))
    assert vocab.tokens == ("<pad>", "<unk>", *want)  # the (3), dog (2)
    assert vocab.tokens[2:] == ("the", "dog")  # "dog's" is a word of its own
    assert vocab.counts[UNK_ID] == sum(c for w, c in counts.items() if c < 2)
    assert vocab.counts[PAD_ID] == 0


def test_max_size_keeps_most_frequent_and_counts_reserved_ids():
    vocab = build_vocabulary(TEXTS, max_size=4)
    assert len(vocab) == 4 and vocab.tokens[2:] == ("the", "dog")


def test_encode_unknown_and_decode():
    vocab = build_vocabulary(TEXTS, min_freq=2)
    ids = vocab.encode("The zebra dog")
    np.testing.assert_array_equal(ids, [vocab.id("the"), UNK_ID, vocab.id("dog")])
    assert ids.dtype == np.int32
    assert vocab.decode([PAD_ID, *ids.tolist()]) == ["the", "<unk>", "dog"]
    assert vocab.encode("").shape == (0,)


def test_json_round_trip(tmp_path):
    vocab = build_vocabulary(TEXTS)
    vocab.save(tmp_path / "v.json")
    back = Vocabulary.load(tmp_path / "v.json")
    assert back == vocab and back.id("dog") == vocab.id("dog")
    assert not list(tmp_path.glob("*.tmp"))  # atomic write left no temp file


def test_errors(tmp_path):
    with pytest.raises(TypeError, match="tokenize: text must be a str"):
        tokenize(None)
    with pytest.raises(ValueError, match="build_vocabulary: min_freq must be >= 1, got 0"):
        build_vocabulary(TEXTS, min_freq=0)
    with pytest.raises(TypeError, match="build_vocabulary: min_freq must be an int"):
        build_vocabulary(TEXTS, min_freq=1.5)
    with pytest.raises(ValueError, match="build_vocabulary: max_size must be >= 2"):
        build_vocabulary(TEXTS, max_size=1)
    with pytest.raises(ValueError, match=r"Vocabulary.decode: ids must be in \[0, "):
        build_vocabulary(TEXTS).decode([999])
    with pytest.raises(ValueError, match="Vocabulary: tokens must start with"):
        Vocabulary(("a", "b"), (1, 1))
    (tmp_path / "bad.json").write_text(json.dumps({"tokens": []}))
    with pytest.raises(ValueError, match=r"Vocabulary.load: .*bad\.json must have format"):
        Vocabulary.load(tmp_path / "bad.json")


@pytest.mark.parametrize("missing", ["tokens", "counts"])
def test_load_names_the_file_and_a_missing_key(tmp_path, missing):
    obj = {"format": "jaxcnn.vocab/1", "tokens": ["<pad>", "<unk>"], "counts": [0, 0]}
    del obj[missing]
    path = tmp_path / "v.json"
    path.write_text(json.dumps(obj))
    want = rf"Vocabulary.load: .*v.json must have a list '{missing}', got no such key"
    with pytest.raises(ValueError, match=want):
        Vocabulary.load(path)


def test_tokens_and_counts_must_be_tuples():
    with pytest.raises(TypeError, match=r"Vocabulary: tokens must be a tuple, got list"):
        Vocabulary(["<pad>", "<unk>", "a"], (0, 0, 1))
    with pytest.raises(TypeError, match=r"Vocabulary: counts must be a tuple, got list"):
        Vocabulary(("<pad>", "<unk>", "a"), [0, 0, 1])
