"""Normalisation layers over :mod:`jaxcnn.functional.norm`: ``BatchNorm`` and ``LayerNorm``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from jaxcnn import _checks
from jaxcnn.functional.norm import batch_norm, batch_norm_train, layer_norm


class BatchNorm(nn.Module):
    """Batch normalisation over every axis but the last (channels): ``(N, ..., C) -> same``.

    ``train=True``: normalise with the batch's mean and (biased) variance over ``N, *spatial``,
    and update the running statistics ``ra = momentum * ra + (1 - momentum) * batch`` (call
    ``apply(..., mutable=["batch_stats"])``). ``train=False``: normalise with the running
    statistics; nothing changes. ``init`` does not move the statistics.

    Conventions: Flax's. ``momentum=0.9`` here is PyTorch's ``momentum=0.1``; the running
    variance is the biased batch variance (PyTorch stores the unbiased one, larger by
    ``count / (count - 1)``).

    Attributes:
      momentum: in ``[0, 1]``, weight of the old running value.
      epsilon: added to the variance.
      use_scale, use_bias: learn a per-channel scale (init ones) and shift (init zeros).
      scale_init, bias_init: their initialisers.

    Parameters: ``scale (C,)``, ``bias (C,)``; collection ``"batch_stats"``: ``mean (C,)``
    (init 0), ``var (C,)`` (init 1).

    ``__call__(x, train=False)``: ``x`` of shape ``(N, ..., C)``. Returns ``x``'s shape.

    Raises:
      TypeError / ValueError: ``momentum`` outside ``[0, 1]``, and the errors of
        :func:`jaxcnn.functional.batch_norm` (rank < 2, non-floating ``x``).
    """

    momentum: float = 0.9
    epsilon: float = 1e-5
    use_scale: bool = True
    use_bias: bool = True
    scale_init: Callable[..., Any] = nn.initializers.ones_init()
    bias_init: Callable[..., Any] = nn.initializers.zeros_init()
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False) -> jax.Array:
        fn = "BatchNorm"
        m = self.momentum
        if not _checks.is_real(m) or not 0.0 <= m <= 1.0:
            raise ValueError(f"{fn}: momentum must be a real number in [0, 1], got {m!r}")
        shape = getattr(x, "shape", None)
        if shape is None:
            raise TypeError(f"{fn}: x must be an array (N, ..., C), got {type(x).__name__}")
        if len(shape) < 2:
            raise ValueError(f"{fn}: x must have rank >= 2 (N, ..., C), got shape {tuple(shape)}")
        c = shape[-1]
        scale = (
            self.param("scale", self.scale_init, (c,), self.param_dtype) if self.use_scale else None
        )
        bias = self.param("bias", self.bias_init, (c,), self.param_dtype) if self.use_bias else None
        ra_mean = self.variable("batch_stats", "mean", jnp.zeros, (c,), jnp.float32)
        ra_var = self.variable("batch_stats", "var", jnp.ones, (c,), jnp.float32)
        if not train:
            return batch_norm(x, scale, bias, ra_mean.value, ra_var.value, epsilon=self.epsilon)
        y, mean, var = batch_norm_train(x, scale, bias, epsilon=self.epsilon)
        if not self.is_initializing():
            # Running statistics are bookkeeping, not part of the training gradient.
            mean, var = jax.lax.stop_gradient(mean), jax.lax.stop_gradient(var)
            ra_mean.value = m * ra_mean.value + (1.0 - m) * mean.astype(jnp.float32)
            ra_var.value = m * ra_var.value + (1.0 - m) * var.astype(jnp.float32)
        return y


class LayerNorm(nn.Module):
    """Layer normalisation of each example over the last axis: ``(..., D) -> (..., D)``.

    Attributes:
      epsilon: added to the (biased) variance.
      use_scale, use_bias: learn ``scale (D,)`` (init ones) and ``bias (D,)`` (init zeros).

    ``__call__(x)``: ``x`` of rank >= 1, floating. Returns ``x``'s shape.

    Raises:
      TypeError: a non-array or non-floating ``x`` (as :func:`jaxcnn.functional.layer_norm`).
      ValueError: ``x`` of rank 0.
    """

    epsilon: float = 1e-5
    use_scale: bool = True
    use_bias: bool = True
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x) -> jax.Array:
        shape = getattr(x, "shape", None)
        if shape is None:
            raise TypeError(f"LayerNorm: x must be an array (..., D), got {type(x).__name__}")
        if len(shape) < 1:
            raise ValueError(f"LayerNorm: x must have rank >= 1 (..., D), got shape {tuple(shape)}")
        d = shape[-1]
        scale = (
            self.param("scale", nn.initializers.ones_init(), (d,), self.param_dtype)
            if self.use_scale
            else None
        )
        bias = (
            self.param("bias", nn.initializers.zeros_init(), (d,), self.param_dtype)
            if self.use_bias
            else None
        )
        return layer_norm(x, scale, bias, epsilon=self.epsilon, axis=-1)
