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

``Augment`` is a thin layer that random-crops, flips (and optionally erases) during training
only, drawing its key from the ``"dropout"`` RNG stream, so augmentation runs inside the
compiled training step.
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
from jaxcnn.vision.augment import random_crop, random_erasing, random_flip

MODELS = ("mlp", "cnn", "allconv", "gap", "resnet")


class Augment(nn.Module):
    """Random crop (zero padding ``padding``), horizontal flip and, with probability ``erase``,
    random erasing (`jaxcnn.vision.random_erasing`) when ``train`` is True.

    ``(N, H, W, C) -> (N, H, W, C)``; the identity at evaluation time. Uses the ``"dropout"`` rng.
    """

    padding: int = 2
    flip: bool = True
    erase: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        if not train:
            return x
        rng = self.make_rng("dropout")
        crop_key, flip_key = jax.random.split(rng)  # as without erasing: same crops and flips
        erase_key = jax.random.fold_in(rng, 2)
        if self.padding:
            x = random_crop(crop_key, x, self.padding)
        if self.flip:
            x = random_flip(flip_key, x)
        return random_erasing(erase_key, x, self.erase) if self.erase else x


def make_model(
    name: str, num_classes: int = 10, *, augment: bool = False, erase: float = 0.0
) -> nn.Module:
    """Build one of ``MODELS``.

    Args:
      name: ``"mlp"``, ``"cnn"``, ``"allconv"``, ``"gap"`` or ``"resnet"``.
      num_classes: logits per example.
      augment: prepend ``Augment()`` (random crop + flip while training).
      erase: with ``augment``, the probability of random erasing per training image (0: none).

    Returns:
      A ``Sequential`` mapping ``(N, H, W, C)`` NHWC to ``(N, num_classes)`` logits.

    Raises:
      TypeError: ``num_classes`` not an int (a bool or float included).
      ValueError: unknown name, a non-positive ``num_classes``, or ``erase`` outside [0, 1]
        or given without ``augment``.
    """
    if name not in MODELS:
        raise ValueError(f"make_model: name must be one of {list(MODELS)}, got {name!r}")
    # NumPy ints (e.g. labels.max() + 1) are ints; bools and floats are not.
    num_classes = _checks.positive_int(num_classes, "make_model", "num_classes")
    check_erase(erase, augment, "make_model")
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
        layers = [Augment(erase=float(erase)), *layers]
    return Sequential(layers)


def check_erase(erase: float, augment: bool, fn: str) -> None:
    """Raise ValueError unless ``erase`` is a probability, and 0 when ``augment`` is False."""
    if not _checks.is_real(erase) or not 0.0 <= erase <= 1.0:
        raise ValueError(f"{fn}: erase must be a probability in [0, 1], got {erase!r}")
    if erase and not augment:
        raise ValueError(f"{fn}: erase={erase} needs augment=True (erasing is an augmentation)")
