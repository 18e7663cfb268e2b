"""``Sequential``: a chain of layers and plain functions that passes ``train`` where wanted."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import jax
from flax import linen as nn


class Sequential(nn.Module):
    """Apply ``layers`` in order: ``x -> layers[-1](... layers[0](x))``.

    Attributes:
      layers: Flax modules and plain callables (``nn.relu``, ``jnp.tanh``, a lambda). A layer
        whose ``__call__`` (or, for a function, whose signature) has a ``train`` parameter gets
        ``train=train``; the others are called with ``x`` alone. Sub-modules are named
        ``layers_0``, ``layers_1``, ... by their position, as Flax names list attributes.

    ``__call__(x, train=False)``: returns the last layer's output.

    Raises:
      TypeError: an element of ``layers`` is not callable. ValueError: ``layers`` is empty.
    """

    layers: Sequence[nn.Module | Callable]

    @nn.compact
    def __call__(self, x, train: bool = False) -> jax.Array:
        if not self.layers:
            raise ValueError("Sequential: layers must be a non-empty sequence, got []")
        for i, layer in enumerate(self.layers):
            if not callable(layer):
                raise TypeError(
                    f"Sequential: layers must contain modules or callables, got "
                    f"{type(layer).__name__} at position {i}"
                )
            x = layer(x, train=train) if takes_train(layer) else layer(x)
        return x


def takes_train(layer) -> bool:
    """Whether ``layer(x, train=...)`` is accepted (a module's ``__call__`` or a function)."""
    if isinstance(layer, nn.Module):
        return _has_train(type(layer).__call__)
    return _has_train(layer)


def _has_train(f) -> bool:
    try:
        params = inspect.signature(f).parameters
    except (TypeError, ValueError):  # builtins / jax primitives without a signature
        return False
    return "train" in params
