"""The speech frame classifiers: input ``(B, 21, 40)`` context windows, output ``(B, 138)`` logits.

* :class:`NotesMLP`: the notes' MLP, 21*40 -> 128 -> 128 -> 128 -> 138 (158,474 parameters).
* :class:`NotesCNN`: the notes' 10-layer CNN as literally described: ten 3x3 convolutions with
  3 filters each, stride 1, no padding, then one fully connected layer. The window shrinks by 2
  per layer, 21x40 -> 1x20, so the classifier sees 1*20*3 = 60 numbers (9,204 parameters).
  The notes' "~100k" counts a 19*38*138 classifier, i.e. the map after *one* layer.
* :class:`CNN100k`: about the 100k parameters the notes meant (99,266): two conv + pool stages
  and a small classifier.
* :class:`FreqCNN`: our design: convolutions that pool along frequency only (the Abdel-Hamid et
  al. 2014 idea: formant shifts between speakers are small frequency translations, while time
  resolution matters for the frame label), batch norm, and a wider classifier with dropout.

Each model treats the window as a one-channel ``(21, 40)`` image in NHWC layout.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

NUM_CLASSES = 138


def _image(x):
    """(B, 21, 40) -> (B, 21, 40, 1) NHWC; the rank is checked, never guessed."""
    if x.ndim != 3:
        raise ValueError(f"models: x must have rank 3 (B, frames, features), got shape {x.shape}")
    return x[..., None]


class NotesMLP(nn.Module):
    """21*40 -> 128 -> 128 -> 128 -> 138, ReLU. x: (B, 21, 40) -> logits (B, 138)."""

    hidden: tuple[int, ...] = (128, 128, 128)
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x, train: bool = False):
        h = _image(x).reshape(x.shape[0], -1)
        for width in self.hidden:
            h = nn.relu(nn.Dense(width)(h))
        return nn.Dense(self.num_classes)(h)


class NotesCNN(nn.Module):
    """Ten 3x3 VALID convolutions with 3 filters, ReLU, then Dense(138). (B, 21, 40) -> (B, 138)."""

    layers: int = 10
    filters: int = 3
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x, train: bool = False):
        h = _image(x)
        for _ in range(self.layers):
            h = nn.relu(nn.Conv(self.filters, (3, 3), padding="VALID")(h))
        return nn.Dense(self.num_classes)(h.reshape(h.shape[0], -1))


class CNN100k(nn.Module):
    """conv16 3x3 - pool 2 - conv32 3x3 - pool 2 - Dense(104) - Dense(138); 99,266 parameters."""

    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x, train: bool = False):
        h = _image(x)  # (B, 21, 40, 1)
        h = nn.relu(nn.Conv(16, (3, 3), padding="VALID")(h))  # (B, 19, 38, 16)
        h = nn.max_pool(h, (2, 2), (2, 2))  # (B, 9, 19, 16)
        h = nn.relu(nn.Conv(32, (3, 3), padding="VALID")(h))  # (B, 7, 17, 32)
        h = nn.max_pool(h, (2, 2), (2, 2))  # (B, 3, 8, 32)
        h = nn.relu(nn.Dense(104)(h.reshape(h.shape[0], -1)))
        return nn.Dense(self.num_classes)(h)


class FreqCNN(nn.Module):
    """Frequency-pooling CNN with batch norm and dropout. (B, 21, 40) -> (B, 138)."""

    channels: tuple[int, int] = (32, 64)
    hidden: int = 512
    dropout: float = 0.2
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x, train: bool = False):
        h = _image(x)  # (B, 21, 40, 1)
        for c, pool in zip(self.channels, (2, 2), strict=True):
            h = nn.Conv(c, (3, 5), padding="SAME", use_bias=False)(h)
            h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
            h = nn.max_pool(nn.relu(h), (1, pool), (1, pool))  # pool frequency only
        # (B, 21, 10, 64): keep the centre 11 frames, the outer ones mostly add context noise
        h = h[:, 5:16]
        h = h.reshape(h.shape[0], -1)
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        h = nn.relu(nn.Dense(self.hidden)(h))
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        return nn.Dense(self.num_classes)(h)


MODELS = {"mlp": NotesMLP, "notes_cnn": NotesCNN, "cnn_100k": CNN100k, "freq_cnn": FreqCNN}


def count_params(model: nn.Module, frames: int = 21, dim: int = 40) -> int:
    """Number of trainable parameters, from shapes only (``jax.eval_shape``, no compute)."""
    import jax

    shapes = jax.eval_shape(
        lambda: model.init(jax.random.key(0), jnp.zeros((1, frames, dim), jnp.float32))
    )
    return sum(int(jnp.prod(jnp.array(p.shape))) for p in jax.tree.leaves(shapes["params"]))
