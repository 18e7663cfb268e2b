"""Vectors files (GloVe / word2vec text) in and out, and the embedding table."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxcnn.text.embeddings import Embedding, load_vectors, replace_table, save_vectors
from jaxcnn.text.vocab import PAD_ID, UNK_ID, build_vocabulary

VOCAB = build_vocabulary(["the dog saw the cat", "a bird"])  # the, a, bird, cat, dog, saw


@pytest.mark.parametrize("header", [True, False])
def test_round_trip_through_file(tmp_path, header):
    table = np.random.default_rng(0).normal(size=(len(VOCAB), 7)).astype(np.float32)
    save_vectors(tmp_path / "v.txt", VOCAB, table, header=header)
    first = (tmp_path / "v.txt").read_text().splitlines()[0]
    assert (first == f"{len(VOCAB) - 2} 7") == header
    back, stats = load_vectors(tmp_path / "v.txt", VOCAB, dim=7)
    np.testing.assert_array_equal(back[2:], table[2:])  # exact: 9 significant digits
    np.testing.assert_array_equal(back[PAD_ID], 0.0)
    np.testing.assert_allclose(back[UNK_ID], table[2:].mean(0), rtol=1e-5)
    assert (stats.dim, stats.found, stats.missing, stats.ignored) == (7, len(VOCAB) - 2, 0, 0)


def test_glove_file_missing_and_foreign_words_are_counted(tmp_path):
    path = tmp_path / "glove.txt"
    # "Dog" matches after lower-casing; "zebra" is not in the vocabulary; "dog" repeats.
    path.write_text("Dog 1 2 3\nzebra 4 5 6\nthe 0.5 -0.5 0\ndog 9 9 9\n")
    table, stats = load_vectors(path, VOCAB, seed=1)
    np.testing.assert_array_equal(table[VOCAB.id("dog")], [1, 2, 3])
    np.testing.assert_array_equal(table[VOCAB.id("the")], [0.5, -0.5, 0])
    assert (stats.found, stats.missing, stats.ignored) == (2, len(VOCAB) - 4, 2)
    # missing words are random with the found values' scale, not zero
    assert np.all(np.abs(table[VOCAB.id("cat")]) > 0)


def test_bad_files(tmp_path):
    p = tmp_path / "v.txt"
    p.write_text("2 3\nthe 1 2 3\ndog 1 2\n")
    with pytest.raises(
        ValueError, match="load_vectors: line 3 of .* must have a word and 3 numbers"
    ):
        load_vectors(p, VOCAB)
    p.write_text("the 1 2 3\ndog 1 x 3\n")
    with pytest.raises(ValueError, match="load_vectors: line 2 of .* must have 3 numbers after"):
        load_vectors(p, VOCAB)
    p.write_text("the 1 2 3\n")
    with pytest.raises(ValueError, match="load_vectors: vectors must have dimension 100, got 3"):
        load_vectors(p, VOCAB, dim=100)
    p.write_text("2 50\nthe 1 2 3\n")
    with pytest.raises(ValueError, match="load_vectors: vectors must have dimension 4, got 50"):
        load_vectors(p, VOCAB, dim=4)
    p.write_text("the 1 2 3\n\ndog 1 2 3\n")
    with pytest.raises(ValueError, match="load_vectors: line 2 of .* got an empty line"):
        load_vectors(p, VOCAB)
    p.write_text("the 1 nan 3\n")
    with pytest.raises(ValueError, match="load_vectors: line 1 of .* must have finite numbers"):
        load_vectors(p, VOCAB)
    p.write_text("")
    with pytest.raises(ValueError, match="load_vectors: .* must hold at least one vector"):
        load_vectors(p, VOCAB)
    with pytest.raises(ValueError, match="save_vectors: table must have 8 rows"):
        save_vectors(p, VOCAB, np.zeros((3, 2)))


def test_embedding_lookup_static_and_replace():
    ids = jnp.asarray([[2, 3, 0]], jnp.int32)
    for static in (False, True):
        emb = Embedding(len(VOCAB), 4, static=static)
        variables = emb.init(jax.random.key(0), ids)
        table = np.arange(len(VOCAB) * 4, dtype=np.float32).reshape(-1, 4)
        assert variables["params"]["table"].shape == table.shape
        variables = {"params": {"table": jnp.asarray(table)}}
        out = emb.apply(variables, ids)
        np.testing.assert_array_equal(out[0], table[[2, 3, 0]])
        grad = jax.grad(lambda v, e=emb: e.apply(v, ids).sum())(variables)["params"]["table"]
        want = np.zeros_like(table)
        if not static:
            want[[2, 3, 0]] = 1.0
        np.testing.assert_array_equal(grad, want)
    with pytest.raises(TypeError, match="Embedding: ids must have an integer dtype"):
        emb.apply(variables, jnp.zeros((1, 2)))


def test_replace_table_checks():
    variables = {"params": {"embed": {"table": jnp.zeros((4, 2))}}}
    out = replace_table(variables, "embed", np.ones((4, 2)))
    np.testing.assert_array_equal(out["params"]["embed"]["table"], 1.0)
    np.testing.assert_array_equal(variables["params"]["embed"]["table"], 0.0)  # a copy
    with pytest.raises(ValueError, match="replace_table: table must have shape"):
        replace_table(variables, "embed", np.ones((3, 2)))
    with pytest.raises(ValueError, match="replace_table: name must be an embedding"):
        replace_table(variables, "nope", np.ones((4, 2)))


def test_word2vec_header_must_match_the_vectors(tmp_path):
    p = tmp_path / "v.txt"
    p.write_text("2 3\n")
    with pytest.raises(ValueError, match="load_vectors: .* at least one vector, got only a header"):
        load_vectors(p, VOCAB)
    p.write_text("3 3\nthe 1 2 3\nzebra 4 5 6\n")  # truncated: a vector short
    with pytest.raises(ValueError, match="must hold the 3 vectors its header declares, got 2"):
        load_vectors(p, VOCAB)


def test_save_refuses_what_load_cannot_read_back(tmp_path):
    p = tmp_path / "v.txt"
    table = np.ones((len(VOCAB), 3), np.float32)
    table[VOCAB.id("dog"), 1] = np.nan
    with pytest.raises(ValueError, match="save_vectors: table must be finite, .* of 'dog'"):
        save_vectors(p, VOCAB, table)
    table[VOCAB.id("dog"), 1] = np.inf
    with pytest.raises(ValueError, match="save_vectors: table must be finite, .* of 'dog'"):
        save_vectors(p, VOCAB, table)
    table[PAD_ID] = np.nan  # PAD and UNK are not written: their rows do not matter
    table[VOCAB.id("dog"), 1] = 0.0
    save_vectors(p, VOCAB, table)
    p.unlink()
    for word in ("new york", "tab\tword", "line\nbreak", ""):
        vocab = build_vocabulary([["the", word]])
        want = "save_vectors: words must .* got " + re.escape(repr(word))
        with pytest.raises(ValueError, match=want):
            save_vectors(p, vocab, np.ones((len(vocab), 2)))
    assert not list(tmp_path.iterdir())  # nothing written, no temp file left
