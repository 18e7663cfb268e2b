"""Activation maps: the output of every convolution layer for one input, via Flax's
``capture_intermediates`` (no change to the model needed)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import numpy as np
from jax.typing import ArrayLike

from jaxcnn import _checks
from jaxcnn._figure import new_figure, save_figure


def conv_activations(
    model: nn.Module, variables: Mapping[str, Any], x: ArrayLike, *, relu: bool = True
) -> dict[str, np.ndarray]:
    """Run ``model`` on ``x`` and return each 2-D convolution layer's output, in call order.

    A layer counts as a convolution when it is a Flax module whose class name contains ``Conv``
    and whose output is rank 4 (``jaxcnn.layers.Conv2D``, ``flax.linen.Conv``, ...).

    Args:
      model: a Flax module, called as ``model.apply(variables, x, train=False)``.
      variables: its variables.
      x: ``(N, H, W, C)`` NHWC input.
      relu: apply ``max(0, .)`` to each map, as the network does right after its convolutions.

    Returns:
      ``{module path: (N, H', W', C') array}`` in the order the layers ran.

    Raises:
      ValueError: ``x`` not rank 4, or the model has no convolution layer.
    """
    _checks.rank(x, 4, "conv_activations", "x", "(N, H, W, C)")
    outputs = module_outputs(model, variables, x, is_conv)
    maps = {k: np.asarray(v) for k, v in outputs.items() if v.ndim == 4}
    if not maps:
        raise ValueError(
            f"conv_activations: model must contain a 2-D Conv layer, got {type(model).__name__}"
        )
    return {k: (np.maximum(v, 0) if relu else v) for k, v in maps.items()}


def is_conv(module: nn.Module) -> bool:
    """Whether ``module`` is a convolution layer (its class name contains ``Conv``)."""
    return "Conv" in type(module).__name__


def module_outputs(
    model: nn.Module,
    variables: Mapping[str, Any],
    x: Any,
    select: Callable[[nn.Module], bool],
) -> dict[str, jax.Array]:
    """Outputs of the sub-modules for which ``select(module)`` is True, keyed by path.

    Differentiable (no NumPy conversion), so ``jax.grad`` can go through it, e.g. to a chosen
    conv unit for ``gradient_receptive_field`` or to a feature layer for transfer learning.

    Args:
      model, variables: a Flax model called as ``model.apply(variables, x, train=False)``.
      x: its input.
      select: ``Module -> bool``.

    Returns:
      ``{path: output array}`` in call order (a module called twice keeps its first output).
    """

    def keep(module, method_name):
        return method_name == "__call__" and select(module)

    _, state = model.apply(
        variables, x, train=False, capture_intermediates=keep, mutable=["intermediates"]
    )
    out: dict[str, jax.Array] = {}
    _collect(state.get("intermediates", {}), (), out)
    return out


def save_activation_maps(
    maps: dict[str, np.ndarray],
    path: str | os.PathLike,
    *,
    image: ArrayLike | None = None,
    max_channels: int = 8,
) -> None:
    """One PNG: a row per layer with its first ``max_channels`` channels of example 0.

    Args:
      maps: from ``conv_activations``.
      path: the PNG to write.
      image: optional ``(H, W, C)`` input drawn at the start of each row: in colour when C is 3
        (or 4, alpha dropped), min-max scaled to [0, 1]; otherwise channel 0 in grayscale.
      max_channels: channels per row, an int >= 1.

    Raises:
      TypeError / ValueError: ``maps`` empty or not all rank 4 ``(N, H, W, C)``, ``image`` not
        ``(H, W, C)``, or ``max_channels`` not a positive int (checked before matplotlib runs).
    """
    fn = "save_activation_maps"
    max_channels = _checks.positive_int(max_channels, fn, "max_channels")
    if not maps:
        raise ValueError(f"{fn}: maps must hold at least one layer, got none")
    for name, m in maps.items():
        _checks.rank(m, 4, fn, f"maps[{name!r}]", "(N, H, W, C)")
    if image is not None:
        _checks.rank(image, 3, fn, "image", "(H, W, C)")
    cols = max_channels + (1 if image is not None else 0)
    fig = new_figure((1.1 * cols, 1.2 * len(maps) + 0.2))
    axes = fig.subplots(len(maps), cols)
    axes = np.atleast_2d(axes)
    for row, (name, m) in enumerate(maps.items()):
        offset = 0
        if image is not None:
            _show_input(axes[row, 0], image)
            axes[row, 0].set_title("input" if row == 0 else "", fontsize=7)
            offset = 1
        for c in range(max_channels):
            ax = axes[row, c + offset]
            if c < m.shape[-1]:
                ax.imshow(m[0, ..., c], cmap="viridis", interpolation="nearest")
            if c == 0:
                ax.set_title(f"{name} {m.shape[1]}x{m.shape[2]}", fontsize=7, loc="left")
        for ax in axes[row]:
            ax.set_axis_off()
    fig.tight_layout()
    save_figure(fig, path, dpi=80)  # atomic: a killed save leaves no broken PNG


def _show_input(ax, image) -> None:
    image = np.asarray(image, np.float32)
    if image.shape[-1] not in (3, 4):
        ax.imshow(image[..., 0], cmap="gray")  # imshow scales a single channel itself
        return
    rgb = image[..., :3]
    lo, hi = float(rgb.min()), float(rgb.max())
    # imshow clips RGB floats to [0, 1] instead of scaling them, so scale here
    ax.imshow((rgb - lo) / (hi - lo) if hi > lo else np.zeros_like(rgb))


def _collect(tree, path, out):
    for key, value in tree.items():
        if key == "__call__":
            out["/".join(path)] = value[0]
        elif hasattr(value, "items"):
            _collect(value, (*path, key), out)
