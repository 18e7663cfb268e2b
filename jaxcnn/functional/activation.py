"""The ``activation=`` argument of the convolutions: which functions, and where they are applied.

``conv2d(x, kernel, bias, activation="relu")`` computes ``relu(conv(x) + bias)``, as Keras'
``Conv2D(activation=...)`` or cuDNN's fused convolution-bias-activation. The result is the
same as applying the function to the output; the point is *where* it is applied. A lowering
that computes channels-first (``"lanes"``) adds the bias and applies the activation before it
moves the channels back to the end, so the next lanes layer's move to the front meets that move
directly and XLA cancels the two: a stack of lanes layers keeps its activations channels-first
(the notes' 10-layer CNN's training step at batch 256: 29.7 -> 23.3 ms, each in a process
of its own). With the activation applied outside, an elementwise op sits between the two
transposes, and XLA materialises the channels-last activations of every layer.

Only an elementwise function can be applied in a layout other than the output's, so
:data:`ELEMENTWISE` lists the functions known to be elementwise (by name, or the ``jax.nn`` /
``flax.linen`` function itself); any other callable is applied to the channels-last output, as
the caller would apply it.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

#: Activations that act on each element alone, so any layout may apply them.
ELEMENTWISE: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "relu6": jax.nn.relu6,
    "leaky_relu": jax.nn.leaky_relu,
    "elu": jax.nn.elu,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "sigmoid": jax.nn.sigmoid,
    "softplus": jax.nn.softplus,
    "tanh": jnp.tanh,
}


def resolve_activation(activation, fn: str) -> tuple[Callable | None, bool]:
    """The function an ``activation=`` argument names, and whether it is elementwise.

    Args:
      activation: ``None``, a name in :data:`ELEMENTWISE`, or a callable ``(array) -> array``
        of the same shape (``jax.nn.relu``, ``flax.linen.gelu``, ``lambda y: y * 2``, ...).
      fn: the public function's name, for messages.

    Returns:
      ``(function, elementwise)``: ``(None, True)`` for ``None``; ``elementwise`` is true for the
      names and functions of :data:`ELEMENTWISE`, false for any other callable.

    Raises:
      ValueError: an unknown name.
      TypeError: neither ``None``, a string nor a callable.
    """
    if activation is None:
        return None, True
    if isinstance(activation, str):
        if activation not in ELEMENTWISE:
            raise ValueError(
                f"{fn}: activation must be None, a callable or one of {sorted(ELEMENTWISE)}, "
                f"got {activation!r}"
            )
        return ELEMENTWISE[activation], True
    if not callable(activation):
        raise TypeError(
            f"{fn}: activation must be None, a callable or one of {sorted(ELEMENTWISE)}, "
            f"got {type(activation).__name__} {activation!r}"
        )
    return activation, any(activation is f for f in ELEMENTWISE.values())


def bias_and_activation(y: jax.Array, bias, activation, channel_axis: int = -1) -> jax.Array:
    """``activation(y + bias)``, the bias broadcast along ``channel_axis``.

    Args:
      y: a convolution's output, channels on ``channel_axis`` (``-1``: NWC / NHWC).
      bias: ``None`` or ``(C,)`` (checked by the caller).
      activation: ``None`` or a function from :func:`resolve_activation`.
      channel_axis: where ``y`` keeps its channels.

    Returns:
      An array shaped and typed as ``y``.
    """
    if bias is not None:
        # Broadcast explicitly: the library runs with rank promotion off.
        shape = [1] * y.ndim
        shape[channel_axis] = -1
        y = y + jnp.reshape(bias, shape).astype(y.dtype)
    return y if activation is None else activation(y)
