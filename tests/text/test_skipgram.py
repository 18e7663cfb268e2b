"""Skip-gram pairs, noise table and dataset: a naive reference and bad input."""

import collections

import numpy as np
import pytest
from jaxcnn.text.skipgram import (
    nearest_neighbours,
    neighbour_ranks,
    noise_table,
    skipgram_dataset,
    skipgram_pairs,
)
from jaxcnn.text.vocab import UNK_ID, build_vocabulary

VOCAB = build_vocabulary(["a b c d e a b a"])


def _naive_pairs(sequences, window, seed):
    """word2vec's loop, with the same random draws as skipgram_pairs (subsample=0)."""
    rng = np.random.default_rng(seed)
    toks = [t for s in sequences for t in s]
    rng.random(len(toks))  # the subsampling draw (every word kept)
    kept = [(t, i) for i, s in enumerate(sequences) for t in s if t > UNK_ID]
    reach = rng.integers(1, window + 1, len(kept))
    pairs = []
    for c, (word, sent) in enumerate(kept):
        for o in range(c - reach[c], c + reach[c] + 1):
            if o != c and 0 <= o < len(kept) and kept[o][1] == sent:
                pairs.append((word, kept[o][0]))
    return collections.Counter(pairs)


def test_pairs_match_a_naive_loop():
    rng = np.random.default_rng(3)
    seqs = [rng.integers(0, len(VOCAB), n) for n in (7, 1, 0, 12, 5)]
    centers, contexts = skipgram_pairs(seqs, VOCAB, window=3, subsample=0, seed=4)
    assert collections.Counter(zip(centers.tolist(), contexts.tolist(), strict=True)) == (
        _naive_pairs([s.tolist() for s in seqs], 3, 4)
    )


def test_pairs_reject_ids_outside_the_vocabulary():
    n = len(VOCAB)
    with pytest.raises(
        ValueError, match=rf"sequences\[1\] must be in \[0, {n}\).*got values in \[2, {n}\]"
    ):
        skipgram_pairs([np.array([2, 3]), np.array([2, n])], VOCAB)  # was an IndexError
    with pytest.raises(
        ValueError, match=r"ids of sequences\[0\] must be in .*got values in \[-1, 3\]"
    ):
        skipgram_pairs([np.array([3, -1])], VOCAB)  # was silently wrapped around
    with pytest.raises(TypeError, match=r"sequences\[0\] must have an integer dtype, got float64"):
        skipgram_pairs([np.array([2.0, 3.0])], VOCAB)
    with pytest.raises(
        ValueError, match=r"sequences\[0\] must have rank 1 \(T,\), got shape \(1, 2\)"
    ):
        skipgram_pairs([np.array([[2, 3]])], VOCAB)


def test_noise_table_size_is_checked():
    table = noise_table(VOCAB, size=100)
    assert table.shape == (100,) and table.min() > UNK_ID
    with pytest.raises(ValueError, match="noise_table: size must be a positive int, got 0"):
        noise_table(VOCAB, size=0)


def test_dataset_rejects_pairs_that_do_not_line_up():
    centers, contexts = np.array([2, 3, 4]), np.array([3, 2, 2])
    noise = noise_table(VOCAB, size=50)
    ds = skipgram_dataset(centers, contexts, noise, num_negatives=2)
    batch = ds.take(ds.arrays, np.arange(3, dtype=np.int32))
    np.testing.assert_array_equal(batch["x"]["candidates"][:, 0], contexts)
    # a short contexts array would be gathered with clamped indices: silently wrong pairs
    with pytest.raises(
        ValueError, match=r"contexts must have the shape of centers \(3,\), got \(2,\)"
    ):
        skipgram_dataset(centers, contexts[:2], noise)
    with pytest.raises(ValueError, match=r"noise must have shape \(S,\) with S >= 1, got \(0,\)"):
        skipgram_dataset(centers, contexts, np.zeros(0, np.int32))
    with pytest.raises(ValueError, match=r"centers must have shape \(P,\) with P >= 1"):
        skipgram_dataset(centers[:0], contexts[:0], noise)
    with pytest.raises(TypeError, match="contexts must have an integer dtype, got float64"):
        skipgram_dataset(centers, contexts + 0.5, noise)


def _naive_rank(table, a, b):
    cos = [
        np.dot(table[a], table[j]) / np.linalg.norm(table[a]) / np.linalg.norm(table[j])
        for j in range(len(table))
    ]
    return sum(cos[j] > cos[b] for j in range(2, len(table)) if j != a)


def test_neighbours_against_a_naive_loop_and_bad_input():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(len(VOCAB), 4))
    pairs = np.array([[2, 3], [4, 2], [5, 6]])
    ranks = neighbour_ranks(table, pairs)
    assert ranks.tolist() == [_naive_rank(table, a, b) for a, b in pairs]
    assert neighbour_ranks(table, []).shape == (0,)
    best = nearest_neighbours(table, VOCAB, ["a", "zebra"], k=2)
    assert list(best) == ["a"] and len(best["a"]) == 2
    # a negative id wrapped around to the last word: a rank for the wrong pair
    with pytest.raises(
        ValueError,
        match=r"neighbour_ranks: pairs must hold ids in \[0, 7\).*got values in \[-1, 3\]",
    ):
        neighbour_ranks(table, [[2, -1], [3, 2]])
    with pytest.raises(
        ValueError, match=r"neighbour_ranks: pairs must have shape \(P, 2\), got \(3,\)"
    ):
        neighbour_ranks(table, [2, 3, 4])  # was reshaped into pairs by position
    with pytest.raises(
        ValueError, match=r"nearest_neighbours: table must have shape \(7, D\).*got \(3, 4\)"
    ):
        nearest_neighbours(table[:3], VOCAB, ["e"])  # was an IndexError
    with pytest.raises(ValueError, match="nearest_neighbours: k must be a positive int, got 0"):
        nearest_neighbours(table, VOCAB, ["a"], k=0)
