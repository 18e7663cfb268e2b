"""Text models over bucketed, masked id sequences.

Sentence classifiers take ``x = {"ids": (B, L) int32, "mask": (B, L) bool}`` and return
``(B, num_classes)`` logits; next-word models return ``(B, L, vocab_size)``. Every model
zeroes the embeddings of padded positions and reduces over time with masked pools, so the
same sentence gives the same logits in any bucket (tested).

* :class:`KimCNN`: Kim (2014): parallel convolutions of several widths over the word vectors,
  ReLU, max-over-time pooling, dropout, a linear classifier.
* :class:`BagOfEmbeddings`: the masked mean of the word vectors, then an MLP: word order is
  ignored, the baseline a CNN must beat.
* :class:`CausalConvLM`: the notes' ``(L, 100) -> (L, 100)`` width-5 convolution, made causal
  (output ``t`` sees tokens ``<= t`` only) and stacked, predicting the next word.
* :class:`WindowMLPLM`: Bengio et al. (2003): the previous ``window`` word vectors
  concatenated, then an MLP: a fixed window, no weight sharing across layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxcnn.text.embeddings import Embedding
from jaxcnn.text.sequences import masked_max_pool, masked_mean_pool

from jaxcnn import _checks
from jaxcnn.layers import Conv1D, Dense, Dropout

EMBEDDINGS = ("TRAINABLE", "STATIC", "TWO_CHANNEL")


class KimCNN(nn.Module):
    """Kim (2014) sentence CNN. ``x`` -> ``(B, num_classes)`` logits.

    ``embeddings``: ``"trainable"`` (one table, fine-tuned), ``"static"`` (one table, frozen:
    start it from pre-trained vectors with :func:`text.embeddings.replace_table` on
    ``"embed"``), ``"two_channel"`` (a frozen ``"embed_static"`` and a trainable ``"embed"``
    table, both normally started from the same vectors). Kim applies every filter to both
    channels and adds the results; a convolution is linear, so that equals one convolution
    of the channels' sum, which is what is computed.
    """

    vocab_size: int
    num_classes: int
    embed_dim: int = 100
    widths: Sequence[int] = (3, 4, 5)
    features: int = 100
    dropout: float = 0.5
    embeddings: str = "trainable"

    @nn.compact
    def __call__(self, x: dict[str, jax.Array], train: bool = False) -> jax.Array:
        ids, mask = _ids_mask(x, "KimCNN")
        mode = _checks.one_of(self.embeddings, EMBEDDINGS, "KimCNN", "embeddings")
        e = Embedding(self.vocab_size, self.embed_dim, static=mode == "STATIC", name="embed")(ids)
        if mode == "TWO_CHANNEL":
            e = e + Embedding(self.vocab_size, self.embed_dim, static=True, name="embed_static")(
                ids
            )
        e = e * mask[..., None].astype(e.dtype)  # padding is zero in every bucket
        pooled = []
        for w in self.widths:
            # SAME keeps one output per real token; past the end it sees zeros in any bucket.
            h = nn.relu(Conv1D(self.features, w, padding="SAME", name=f"conv{w}")(e))
            pooled.append(masked_max_pool(h, mask))
        h = jnp.concatenate(pooled, axis=-1)  # (B, len(widths) * features)
        h = Dropout(self.dropout)(h, train=train)
        return Dense(self.num_classes, name="out")(h)


class BagOfEmbeddings(nn.Module):
    """Masked mean of word vectors -> Dense(hidden) -> ReLU -> dropout -> Dense(classes)."""

    vocab_size: int
    num_classes: int
    embed_dim: int = 100
    hidden: int = 256
    dropout: float = 0.5

    @nn.compact
    def __call__(self, x: dict[str, jax.Array], train: bool = False) -> jax.Array:
        ids, mask = _ids_mask(x, "BagOfEmbeddings")
        e = Embedding(self.vocab_size, self.embed_dim, name="embed")(ids)
        h = nn.relu(Dense(self.hidden, name="hidden")(masked_mean_pool(e, mask)))
        h = Dropout(self.dropout)(h, train=train)
        return Dense(self.num_classes, name="out")(h)


class CausalConvLM(nn.Module):
    """Next-word prediction: ``depth`` causal width-``width`` convolutions, ``features`` wide.

    Each layer maps ``(B, L, 100) -> (B, L, 100)`` (the notes' example: 50,100 parameters at
    width 5), with a residual connection; ``CAUSAL`` padding puts all ``width - 1`` zeros on
    the left, so output ``t`` depends on tokens ``<= t`` only. The receptive field is
    ``depth * (width - 1) + 1`` tokens. ``x`` -> ``(B, L, vocab_size)`` logits.
    """

    vocab_size: int
    embed_dim: int = 100
    features: int = 100
    width: int = 5
    depth: int = 2
    dropout: float = 0.1

    @nn.compact
    def __call__(self, x: dict[str, jax.Array], train: bool = False) -> jax.Array:
        ids, mask = _ids_mask(x, "CausalConvLM")
        h = Embedding(self.vocab_size, self.embed_dim, name="embed")(ids)
        h = h * mask[..., None].astype(h.dtype)
        if self.embed_dim != self.features:
            h = Dense(self.features, name="proj")(h)
        for i in range(self.depth):
            c = Conv1D(self.features, self.width, padding="CAUSAL", name=f"conv{i}")(h)
            h = h + nn.relu(c)
            h = Dropout(self.dropout)(h, train=train)
        return Dense(self.vocab_size, name="out")(h)


class WindowMLPLM(nn.Module):
    """Next-word prediction from the previous ``window`` words only (Bengio et al. 2003).

    Position ``t`` concatenates the vectors of tokens ``t - window + 1 .. t`` (zeros before the
    start), then Dense(hidden) -> ReLU -> Dense(features) -> ReLU -> Dense(vocab).
    ``x`` -> ``(B, L, vocab_size)`` logits.
    """

    vocab_size: int
    embed_dim: int = 100
    window: int = 5
    hidden: int = 166
    features: int = 100
    dropout: float = 0.1

    @nn.compact
    def __call__(self, x: dict[str, jax.Array], train: bool = False) -> jax.Array:
        ids, mask = _ids_mask(x, "WindowMLPLM")
        e = Embedding(self.vocab_size, self.embed_dim, name="embed")(ids)
        e = e * mask[..., None].astype(e.dtype)
        length = e.shape[1]
        padded = jnp.pad(e, ((0, 0), (self.window - 1, 0), (0, 0)))
        # shift j: the word j steps back; oldest first, as in a concatenated window
        ctx = jnp.concatenate(
            [
                padded[:, self.window - 1 - j : self.window - 1 - j + length]
                for j in reversed(range(self.window))
            ],
            axis=-1,
        )  # (B, L, window * embed_dim)
        h = nn.relu(Dense(self.hidden, name="hidden")(ctx))
        h = nn.relu(Dense(self.features, name="features")(h))
        h = Dropout(self.dropout)(h, train=train)
        return Dense(self.vocab_size, name="out")(h)


def _ids_mask(x: object, fn: str) -> tuple[jax.Array, jax.Array]:
    if not isinstance(x, dict) or "ids" not in x or "mask" not in x:
        got = sorted(x) if isinstance(x, dict) else type(x).__name__
        raise TypeError(f"{fn}: x must be a dict with 'ids' and 'mask', got {got}")
    ids, mask = x["ids"], x["mask"]
    _checks.rank(ids, 2, fn, "x['ids']", "(B, L)")
    if tuple(mask.shape) != tuple(ids.shape):
        raise ValueError(f"{fn}: x['mask'] must have shape {tuple(ids.shape)}, got {mask.shape}")
    return ids, mask
