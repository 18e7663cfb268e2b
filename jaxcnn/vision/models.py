"""The image models compared in ``experiments/images.py``, built from ``jaxcnn.layers``.

Every model maps ``(N, H, W, C)`` NHWC images to ``(N, num_classes)`` logits and works for any
input size that survives two halvings (28x28 Fashion-MNIST, 8x8 digits, 32x32 CIFAR):

* ``mlp``: the baseline that ignores the image's 2-D structure.
* ``cnn``: LeNet-style, conv-relu-maxpool twice, then one fully connected layer (~50k params).
* ``allconv``: the same with each max pool replaced by a stride-2 convolution (Springenberg et
  al.'s all-convolutional net): downsampling is learned.
* ``gap``: a fully-convolutional net whose last conv has one channel per class, averaged over
  space (global average pooling) instead of a fully connected head (Lin et al., NiN).
* ``resnet``: a small residual network (basic blocks 16-32-64, stride 2 between stages), GAP head.

``Augment`` is a thin layer that random-crops and flips during training only, drawing its key
from the ``"dropout"`` RNG stream, so augmentation runs inside the compiled training step.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax

from jaxcnn import _checks
from jaxcnn.layers import (
    BatchNorm,
    Conv2D,
    Dense,
    Flatten,
    GlobalAvgPool,
    MaxPool,
    ResidualBlock2D,
    Sequential,
)
from jaxcnn.vision.augment import random_crop, random_flip

MODELS = ("mlp", "cnn", "allconv", "gap", "resnet")


class Augment(nn.Module):
    """Random crop (zero padding ``padding``) and horizontal flip when ``train`` is True.

    ``(N, H, W, C) -> (N, H, W, C)``; the identity at evaluation time. Uses the ``"dropout"`` rng.
    """

    padding: int = 2
    flip: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        if not train:
            return x
        crop_key, flip_key = jax.random.split(self.make_rng("dropout"))
        if self.padding:
            x = random_crop(crop_key, x, self.padding)
        return random_flip(flip_key, x) if self.flip else x


def make_model(name: str, num_classes: int = 10, *, augment: bool = False) -> nn.Module:
    """Build one of ``MODELS``.

    Args:
      name: ``"mlp"``, ``"cnn"``, ``"allconv"``, ``"gap"`` or ``"resnet"``.
      num_classes: logits per example.
      augment: prepend ``Augment()`` (random crop + flip while training).

    Returns:
      A ``Sequential`` mapping ``(N, H, W, C)`` NHWC to ``(N, num_classes)`` logits.

    Raises:
      TypeError: ``num_classes`` not an int (a bool or float included).
      ValueError: unknown name or a non-positive ``num_classes``.
    """
    if name not in MODELS:
        raise ValueError(f"make_model: name must be one of {list(MODELS)}, got {name!r}")
    # NumPy ints (e.g. labels.max() + 1) are ints; bools and floats are not.
    num_classes = _checks.positive_int(num_classes, "make_model", "num_classes")
    relu = nn.relu
    layers: list[nn.Module | Callable[[jax.Array], jax.Array]]
    if name == "mlp":
        layers = [Flatten(), Dense(256), relu, Dense(128), relu, Dense(num_classes)]
    elif name == "cnn":
        layers = [
            Conv2D(32, 3, padding="SAME"), relu, MaxPool(2),
            Conv2D(64, 3, padding="SAME"), relu, MaxPool(2),
            Flatten(), Dense(num_classes),
        ]  # fmt: skip
    elif name == "allconv":
        layers = [
            Conv2D(32, 3, padding="SAME"), relu, Conv2D(32, 3, stride=2, padding="SAME"), relu,
            Conv2D(64, 3, padding="SAME"), relu, Conv2D(64, 3, stride=2, padding="SAME"), relu,
            Flatten(), Dense(num_classes),
        ]  # fmt: skip
    elif name == "gap":
        layers = [
            Conv2D(32, 3, padding="SAME"), relu, MaxPool(2),
            Conv2D(64, 3, padding="SAME"), relu, MaxPool(2),
            Conv2D(128, 3, padding="SAME"), relu,
            Conv2D(num_classes, 1), GlobalAvgPool(),
        ]  # fmt: skip
    else:
        layers = [
            Conv2D(16, 3, padding="SAME", use_bias=False), BatchNorm(), relu,
            ResidualBlock2D(16), ResidualBlock2D(32, stride=2), ResidualBlock2D(64, stride=2),
            GlobalAvgPool(), Dense(num_classes),
        ]  # fmt: skip
    if augment:
        layers = [Augment(), *layers]
    return Sequential(layers)
