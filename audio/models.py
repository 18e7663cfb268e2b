"""The speech frame classifiers: input ``(B, 21, 40)`` context windows, output ``(B, 138)`` logits.

* :class:`NotesMLP`: the notes' MLP, 21*40 -> 128 -> 128 -> 128 -> 138 (158,474 parameters).
* :class:`NotesCNN`: the notes' 10-layer CNN as literally described: ten 3x3 convolutions with
  3 filters each, stride 1, no padding, then one fully connected layer. The window shrinks by 2
  per layer, 21x40 -> 1x20, so the classifier sees 1*20*3 = 60 numbers (9,204 parameters).
  ``NotesCNN(batch_norm=True)`` (``notes_cnn_bn``) is its remedied variant of the same shape.
  The notes' "~100k" counts a 19*38*138 classifier, i.e. the map after *one* layer.
* :class:`CNN100k`: about the 100k parameters the notes meant (99,266): two conv + pool stages
  and a small classifier.
* :class:`TimeCNN`: our design, a 1-D CNN along time (a time-delay network) with the 40
  coefficients as channels, dilated convolutions, batch norm and dropout. Why not 2-D: the DCT
  that makes MFCCs decorrelates the bands, so neighbouring coefficients are not neighbouring
  frequencies and a 3x3 kernel sliding over them has no locality to exploit (2-D convolution
  along frequency pays off on log-mel MFSC, Abdel-Hamid et al. 2014); along time, the local
  structure is real. It is also matmul-shaped, so it trains fast on a CPU.

The three 2-D models treat the window as a one-channel ``(21, 40)`` image in NHWC layout.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax.numpy as jnp

from jaxcnn.layers import BatchNorm, Conv1D, Conv2D, Dense, Dropout, Flatten, MaxPool

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
        h = Flatten()(_image(x))  # (B, 840)
        for width in self.hidden:
            h = nn.relu(Dense(width)(h))
        return Dense(self.num_classes)(h)


class NotesCNN(nn.Module):
    """Ten 3x3 VALID convolutions with 3 filters, ReLU, then Dense(138). (B, 21, 40) -> (B, 138).

    Two variants of the same shape (docs/audio.md): ``batch_norm=True`` (``notes_cnn_bn``):
    each convolution (without bias) is followed by batch norm before its ReLU (60 more
    parameters); ``residual=True`` (``notes_cnn_res``): from the second layer on, each layer adds
    its input, cropped by one pixel on every side to the VALID output, to its ReLU output, so a
    layer whose filters die passes its input on and the gradient reaches the first layers
    (no extra parameter).
    """

    layers: int = 10
    filters: int = 3
    batch_norm: bool = False
    residual: bool = False
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x, train: bool = False):
        h = _image(x)
        for i in range(self.layers):
            out = Conv2D(self.filters, 3, padding="VALID", use_bias=not self.batch_norm)(h)
            if self.batch_norm:  # each: H-2, W-2
                out = BatchNorm(momentum=0.9)(out, train=train)
            out = nn.relu(out)
            h = out + h[:, 1:-1, 1:-1, :] if self.residual and i > 0 else out
        return Dense(self.num_classes)(Flatten()(h))  # (B, 1 * 20 * 3) -> (B, 138)


class CNN100k(nn.Module):
    """conv16 3x3 - pool 2 - conv32 3x3 - pool 2 - Dense(104) - Dense(138); 99,266 parameters."""

    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x, train: bool = False):
        h = _image(x)  # (B, 21, 40, 1)
        h = nn.relu(Conv2D(16, 3, padding="VALID")(h))  # (B, 19, 38, 16)
        h = MaxPool((2, 2))(h)  # (B, 9, 19, 16)
        h = nn.relu(Conv2D(32, 3, padding="VALID")(h))  # (B, 7, 17, 32)
        h = MaxPool((2, 2))(h)  # (B, 3, 8, 32)
        h = nn.relu(Dense(104)(Flatten()(h)))
        return Dense(self.num_classes)(h)


class TimeCNN(nn.Module):
    """Dilated 1-D convolutions along time, coefficients as channels: (B, 21, 40) -> (B, 138).

    Three 3-tap convolutions with dilations 1, 2, 3 (receptive field 13 frames, 9 outputs),
    each conv - batch norm - ReLU, then dropout, Dense(256), ReLU, Dense(138): 445,066 parameters.
    """

    channels: int = 128
    dilations: tuple[int, ...] = (1, 2, 3)
    hidden: int = 256
    dropout: float = 0.2
    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x, train: bool = False):
        _image(x)  # rank check only: this model reads (B, frames, features) as NWC
        h = x
        for d in self.dilations:  # NWC: (B, 21, 40) -> (B, 19, C) -> (B, 15, C) -> (B, 9, C)
            h = Conv1D(self.channels, 3, dilation=d, padding="VALID", use_bias=False)(h)
            h = nn.relu(BatchNorm(momentum=0.9)(h, train=train))
        h = Flatten()(h)  # (B, 9 * channels)
        h = Dropout(self.dropout)(h, train=train)
        h = nn.relu(Dense(self.hidden)(h))
        return Dense(self.num_classes)(h)


MODELS = {
    "mlp": NotesMLP,
    "notes_cnn": NotesCNN,
    "notes_cnn_bn": functools.partial(NotesCNN, batch_norm=True),
    "notes_cnn_res": functools.partial(NotesCNN, residual=True),
    "cnn_100k": CNN100k,
    "time_cnn": TimeCNN,
}


def count_params(model: nn.Module, frames: int = 21, dim: int = 40) -> int:
    """Number of trainable parameters, from shapes only (``jax.eval_shape``, no compute)."""
    import jax

    shapes = jax.eval_shape(
        lambda: model.init(jax.random.key(0), jnp.zeros((1, frames, dim), jnp.float32))
    )
    return sum(int(jnp.prod(jnp.array(p.shape))) for p in jax.tree.leaves(shapes["params"]))
