"""Small layers: ``Flatten``, ``Dense`` (fully connected) and ``Dropout``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax.linen.dtypes import promote_dtype

from jaxcnn import _checks
from jaxcnn.functional.dense import dense
from jaxcnn.functional.dropout import dropout
from jaxcnn.layers.init import default_bias_init, default_kernel_init


class Flatten(nn.Module):
    """Collapse every axis but the first: ``(N, ...) -> (N, prod(...))``.

    The flattening order is row-major over channels-last axes (``H, W, C``), so a ``Dense``
    after it sees PyTorch's ``(C, H, W)`` flattening only after ``layout.to_channels_first``.

    ``__call__(x)``: ``x`` of rank >= 2. Returns ``(N, prod(x.shape[1:]))``.

    Raises:
      TypeError: ``x`` is not an array. ValueError: rank < 2 (the batch axis is never guessed).
    """

    @nn.compact
    def __call__(self, x) -> jax.Array:
        shape = getattr(x, "shape", None)
        if shape is None:
            raise TypeError(f"Flatten: x must be an array (N, ...), got {type(x).__name__}")
        if len(shape) < 2:
            raise ValueError(f"Flatten: x must have rank >= 2 (N, ...), got shape {tuple(shape)}")
        return jnp.reshape(x, (shape[0], math.prod(shape[1:])))


class Dense(nn.Module):
    """Fully connected layer over the last axis: ``(..., D_in) -> (..., features)``.

    Attributes:
      features: output size ``D_out``.
      use_bias: add a ``(features,)`` bias.
      kernel_init: default ``lecun_normal`` (Flax; variance ``1 / D_in``). PyTorch's
        ``nn.Linear`` uses ``U(-1/sqrt(D_in), 1/sqrt(D_in))`` for kernel and bias: pass
        ``init.torch_kernel_init()`` / ``init.torch_bias_init(D_in)``.
      bias_init: default zeros.
      param_dtype: dtype of the parameters.
      dtype: dtype of the computation (``None``: the inputs' and parameters' own; e.g.
        ``jnp.bfloat16`` with float32 parameters for mixed precision).

    Parameters: ``kernel (D_in, features)`` (PyTorch's ``Linear.weight`` transposed),
    ``bias (features,)``: ``D_in * features + features`` numbers.

    ``__call__(x)``: ``x`` of shape ``(..., D_in)``. Returns ``(..., features)``.

    Raises:
      TypeError / ValueError: a non-positive or non-int ``features``, ``x`` of rank 0, and the
        errors of :func:`jaxcnn.functional.dense`.
    """

    features: int
    use_bias: bool = True
    kernel_init: Callable[..., Any] = default_kernel_init
    bias_init: Callable[..., Any] = default_bias_init
    param_dtype: Any = jnp.float32
    dtype: Any = None  # computation dtype (as Flax): None = as given, else x, kernel, bias cast

    @nn.compact
    def __call__(self, x) -> jax.Array:
        features = _checks.positive_int(self.features, "Dense", "features")
        shape = getattr(x, "shape", None)
        if shape is None:
            raise TypeError(f"Dense: x must be an array (..., D_in), got {type(x).__name__}")
        if len(shape) < 1:
            raise ValueError(f"Dense: x must have rank >= 1 (..., D_in), got shape {tuple(shape)}")
        kernel = self.param("kernel", self.kernel_init, (shape[-1], features), self.param_dtype)
        bias = None
        if self.use_bias:
            bias = self.param("bias", self.bias_init, (features,), self.param_dtype)
        if self.dtype is not None:  # mixed precision: float32 parameters, compute in dtype
            x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
        return dense(x, kernel, bias)


class Dropout(nn.Module):
    """Inverted dropout: drop each element with probability ``rate`` while training.

    Attributes:
      rate: probability of *dropping* an element, in ``[0, 1)``.

    ``__call__(x, train=False)``: the identity unless ``train``; then it draws from the
    ``"dropout"`` RNG stream (``apply(..., rngs={"dropout": key})``). Returns ``x``'s shape.

    Raises:
      TypeError / ValueError: as :func:`jaxcnn.functional.dropout` (rate outside ``[0, 1)``).
    """

    rate: float

    @nn.compact
    def __call__(self, x, train: bool = False) -> jax.Array:
        if not train:
            return dropout(None, x, self.rate, deterministic=True)
        key = self.make_rng("dropout") if self.rate != 0 else None
        return dropout(key, x, self.rate, deterministic=False)
