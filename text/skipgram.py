"""Word vectors from the corpus itself: skip-gram with negative sampling, as a classifier.

Skip-gram (Mikolov et al. 2013) learns an input vector ``v_w`` and an output vector ``u_c`` per
word so that ``v_w . u_c`` is large for words ``c`` seen near ``w``. The shared training loop
minimises softmax cross-entropy over integer labels, so the objective is posed as a
classification: for each (centre, context) pair the model scores ``K + 1`` candidates,
``[context, noise_1, ..., noise_K]``, and the label is always 0 ("which candidate is the
real context?"). This is the sampled-softmax form of negative sampling (one softmax over
the true word and its ``K`` noise words instead of ``K + 1`` independent sigmoids); both push
``v_w . u_c`` up and ``v_w . u_noise`` down. Noise words are drawn from the unigram
distribution to the power 3/4 through a lookup table, as word2vec does.

Noise words are a pure function of ``(seed, pair index)`` (the dataset's ``take`` must be
pure), so a pair meets the same noise words in every epoch; with many pairs and few epochs
this costs little.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxcnn.text.embeddings import Embedding
from jaxcnn.text.sequences import _check_sequence
from jaxcnn.text.vocab import PAD_ID, UNK_ID, Vocabulary

from jaxcnn import _checks

if TYPE_CHECKING:  # imported late at run time: the rest of the module works without it
    from jaxcnn.train.data import Dataset


class SkipGram(nn.Module):
    """Input vectors (``params["embed"]["table"]``) and output vectors (``["context"]``).

    Call: ``x = {"center": (B,) int32, "candidates": (B, K + 1) int32}`` -> logits
    ``(B, K + 1)``, ``logits[b, j] = v[center[b]] . u[candidates[b, j]]``.
    """

    vocab_size: int
    features: int = 100

    @nn.compact
    def __call__(self, x: dict[str, jax.Array], train: bool = False) -> jax.Array:
        del train  # no dropout: kept for the shared model signature
        # word2vec's initialisation: small random input vectors, zero output vectors.
        v = Embedding(
            self.vocab_size,
            self.features,
            embedding_init=nn.initializers.uniform(1.0 / self.features),
            name="embed",
        )(x["center"])
        u = Embedding(
            self.vocab_size, self.features, embedding_init=nn.initializers.zeros, name="context"
        )(x["candidates"])
        return jnp.einsum("bd,bkd->bk", v, u)


def skipgram_pairs(
    sequences: Sequence[np.ndarray],
    vocab: Vocabulary,
    *,
    window: int = 5,
    subsample: float = 1e-4,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(centre, context) pairs within each sentence, as word2vec makes them.

    Frequent words are dropped with probability ``1 - sqrt(subsample / f(w))`` (``f`` the
    word's share of the corpus); each centre uses a random window ``b ~ U{1..window}``; PAD
    and UNK are never used. Pairs never cross a sentence boundary.

    Args:
      sequences: ``(T_i,)`` int id arrays, one per sentence.
      vocab: gives the word counts for subsampling.
      window: the largest distance between centre and context (>= 1).
      subsample: the threshold ``t`` above; 0 keeps every word.
      seed: seeds subsampling and window sizes.

    Returns:
      ``(centers, contexts)``: int32 ``(P,)`` each, in corpus order.

    Raises:
      TypeError: a sequence of non-integer ids.
      ValueError: ``window < 1``, ``subsample < 0``, a sequence that is not 1-D, or an id
        outside ``[0, len(vocab))`` (the message names the sequence).
    """
    fn = "skipgram_pairs"
    _checks.positive(_checks.ntuple(window, 1, fn, "window"), fn, "window")
    if subsample < 0:
        raise ValueError(f"{fn}: subsample must be >= 0, got {subsample}")
    for i, s in enumerate(sequences):
        s = _check_sequence(s, i, fn)  # 1-D integer ids, as for padding and bucketing
        if s.size and (s.min() < 0 or s.max() >= len(vocab)):
            raise ValueError(
                f"{fn}: ids of sequences[{i}] must be in [0, {len(vocab)}) (the vocabulary), "
                f"got values in [{s.min()}, {s.max()}]"
            )
    rng = np.random.default_rng(seed)
    counts = np.asarray(vocab.counts, np.float64)
    freq = counts / max(counts[2:].sum(), 1.0)
    keep_p = (
        np.ones_like(freq)
        if subsample == 0
        else np.minimum(1.0, np.sqrt(subsample / np.maximum(freq, 1e-12)))
    )
    toks = np.concatenate([np.asarray(s, np.int64) for s in sequences] or [np.zeros(0, np.int64)])
    sent = np.repeat(np.arange(len(sequences)), [len(s) for s in sequences])
    keep = (toks > UNK_ID) & (rng.random(len(toks)) < keep_p[toks])
    toks, sent = toks[keep], sent[keep]
    reach = rng.integers(1, window + 1, len(toks))  # each centre's own window
    centers, contexts = [], []
    for d in range(1, window + 1):
        same = sent[d:] == sent[:-d]
        # left centre i, right neighbour i + d; and the mirror pair
        fwd = same & (reach[:-d] >= d)
        bwd = same & (reach[d:] >= d)
        centers += [toks[:-d][fwd], toks[d:][bwd]]
        contexts += [toks[d:][fwd], toks[:-d][bwd]]
    return (np.concatenate(centers).astype(np.int32), np.concatenate(contexts).astype(np.int32))


def noise_table(vocab: Vocabulary, size: int = 1_000_000, power: float = 0.75) -> np.ndarray:
    """word2vec's unigram table: word ids repeated in proportion to ``count ** power``.

    Returns:
      ``(size,)`` int32; PAD and UNK never appear.

    Raises:
      TypeError / ValueError: ``size`` not a positive int.
      ValueError: no word with a positive count.
    """
    _checks.positive_int(size, "noise_table", "size")
    weights = np.asarray(vocab.counts, np.float64) ** power
    weights[[PAD_ID, UNK_ID]] = 0.0
    if weights.sum() <= 0:
        raise ValueError("noise_table: vocab must have at least one counted word, got none")
    cum = np.cumsum(weights / weights.sum())
    return np.searchsorted(cum, (np.arange(size) + 0.5) / size).astype(np.int32)


def skipgram_dataset(
    centers: ArrayLike,
    contexts: ArrayLike,
    noise: ArrayLike,
    *,
    num_negatives: int = 5,
    seed: int = 0,
) -> Dataset:
    """A training ``Dataset`` of pairs; each batch draws its noise words on the device.

    Batches: ``{"x": {"center": (B,), "candidates": (B, K + 1)}, "y": zeros (B,)}``.

    Args:
      centers, contexts: int ``(P,)`` word ids of the pairs (as :func:`skipgram_pairs` returns).
      noise: int ``(S,)`` noise-word table, ``S >= 1`` (:func:`noise_table`).
      num_negatives: ``K``, noise words per pair (>= 1).
      seed: seeds the noise draws.

    Raises:
      ValueError: ``num_negatives < 1``; ``centers`` and ``contexts`` not 1-D of one length
        ``P >= 1`` (the device gather would clamp the shorter one's indices silently);
        ``noise`` not 1-D and non-empty.
      TypeError: non-integer ``centers``, ``contexts`` or ``noise``.
    """
    from jaxcnn.train.data import Dataset  # late: the rest of the module works without it

    fn = "skipgram_dataset"
    k = int(num_negatives)
    if k < 1:
        raise ValueError(f"{fn}: num_negatives must be >= 1, got {num_negatives}")
    n = np.shape(centers)
    if len(n) != 1 or n[0] == 0:
        raise ValueError(f"{fn}: centers must have shape (P,) with P >= 1, got {n}")
    if np.shape(contexts) != n:
        raise ValueError(
            f"{fn}: contexts must have the shape of centers {n}, got {np.shape(contexts)}"
        )
    if len(np.shape(noise)) != 1 or np.shape(noise)[0] == 0:
        raise ValueError(f"{fn}: noise must have shape (S,) with S >= 1, got {np.shape(noise)}")
    for arg, a in (("centers", centers), ("contexts", contexts), ("noise", noise)):
        if not np.issubdtype(np.asarray(a).dtype, np.integer):
            raise TypeError(f"{fn}: {arg} must have an integer dtype, got {np.asarray(a).dtype}")
    arrays = {
        "center": jnp.asarray(centers, jnp.int32),
        "context": jnp.asarray(contexts, jnp.int32),
        "noise": jnp.asarray(noise, jnp.int32),
        "seed": jnp.asarray(seed, jnp.uint32),
    }

    def take(a: dict[str, jax.Array], idx: jax.Array) -> dict:
        base = jax.random.key(a["seed"])
        keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(idx)
        slots = jax.vmap(lambda kk: jax.random.randint(kk, (k,), 0, a["noise"].shape[0]))(keys)
        cands = jnp.concatenate([a["context"][idx][:, None], a["noise"][slots]], axis=1)
        x = {"center": a["center"][idx], "candidates": cands}
        return {"x": x, "y": jnp.zeros(idx.shape, jnp.int32)}

    return Dataset(arrays=arrays, take=take, size=int(np.shape(centers)[0]))


def nearest_neighbours(
    table: ArrayLike, vocab: Vocabulary, words: Sequence[str], k: int = 5
) -> dict[str, list[tuple[str, float]]]:
    """The ``k`` most cosine-similar words to each of ``words`` (itself, PAD, UNK excluded).

    Args:
      table: ``(len(vocab), D)`` vectors.
      vocab: names the rows of ``table``.
      words: the query words (those not in ``vocab`` are left out).
      k: neighbours per word (>= 1).

    Returns:
      ``{word: [(neighbour, cosine), ...]}`` for the words that are in the vocabulary.

    Raises:
      ValueError: ``table`` not ``(len(vocab), D)``; ``k`` not a positive int (TypeError if
        not an int).
    """
    fn = "nearest_neighbours"
    _checks.positive_int(k, fn, "k")
    if len(np.shape(table)) != 2 or np.shape(table)[0] != len(vocab):
        raise ValueError(
            f"{fn}: table must have shape ({len(vocab)}, D) (one row per word), "
            f"got {np.shape(table)}"
        )
    unit = _unit(table)
    out = {}
    for w in words:
        if w not in vocab:
            continue
        i = vocab.id(w)
        sims = unit @ unit[i]
        sims[[PAD_ID, UNK_ID, i]] = -np.inf
        best = np.argsort(-sims)[:k]
        out[w] = [(vocab.tokens[j], float(sims[j])) for j in best]
    return out


def neighbour_ranks(table: ArrayLike, pairs: np.ndarray) -> np.ndarray:
    """For each id pair ``(a, b)``: ``b``'s rank among all words by cosine to ``a`` (0 = nearest).

    A test of what the vectors learned that they were not trained on: for WordNet synonyms
    (words of one synset), good vectors give small ranks; random vectors give about ``V / 2``.

    Args:
      table: ``(V, D)``; pairs: ``(P, 2)`` int ids.

    Returns:
      ``(P,)`` int ranks (PAD, UNK and ``a`` itself are not counted).

    Raises:
      ValueError: ``table`` not 2-D, ``pairs`` not ``(P, 2)``, or an id outside ``[0, V)``
        (a negative id would otherwise wrap around to another word).
      TypeError: non-integer ``pairs``.
    """
    fn = "neighbour_ranks"
    _checks.rank(np.asarray(table), 2, fn, "table", "(V, D)")
    pairs = np.asarray(pairs)
    if pairs.size == 0:
        pairs = pairs.reshape(0, 2)  # no pairs, e.g. np.asarray([])
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"{fn}: pairs must have shape (P, 2), got {pairs.shape}")
    if pairs.size and not np.issubdtype(pairs.dtype, np.integer):
        raise TypeError(f"{fn}: pairs must have an integer dtype, got {pairs.dtype}")
    v = np.shape(table)[0]
    if pairs.size and (pairs.min() < 0 or pairs.max() >= v):
        raise ValueError(
            f"{fn}: pairs must hold ids in [0, {v}) (rows of table), got values in "
            f"[{pairs.min()}, {pairs.max()}]"
        )
    unit = _unit(table)
    pairs = pairs.astype(np.int64)
    sims = unit[pairs[:, 0]] @ unit.T  # (P, V)
    sims[:, [PAD_ID, UNK_ID]] = -np.inf
    sims[np.arange(len(pairs)), pairs[:, 0]] = -np.inf
    target = sims[np.arange(len(pairs)), pairs[:, 1]]
    return (sims > target[:, None]).sum(axis=1)


def _unit(table: ArrayLike) -> np.ndarray:
    t = np.asarray(table, np.float64)
    return t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
