"""Convolution layers: thin Flax Linen modules over :mod:`jaxcnn.functional` conv functions.

Parameters are a plain pytree ``{"kernel": (*window, C_in // groups, features), "bias":
(features,)}`` in WIO / HWIO layout, so ``jax.lax``, ``jaxcnn.functional`` and
``layout.kernel_to_torch`` use them as they are.

Initialisation (see :mod:`jaxcnn.layers.init`): kernel ``lecun_normal`` (Flax's default,
variance ``1 / fan_in``, ``fan_in = prod(kernel_size) * C_in / groups``), bias zero. PyTorch
uses ``kaiming_uniform(a=sqrt(5))`` (variance ``1 / (3 fan_in)``) and a uniform bias; pass
``kernel_init=init.torch_kernel_init()`` and ``bias_init=init.torch_bias_init(fan_in)`` to match.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax.linen.dtypes import promote_dtype

from jaxcnn import _checks
from jaxcnn.functional.conv import conv1d, conv2d
from jaxcnn.functional.conv_transpose import conv_transpose1d, conv_transpose2d
from jaxcnn.layers.init import default_bias_init, default_kernel_init

_LAYOUT = {1: "(N, W, C)", 2: "(N, H, W, C)"}
Padding = str | int | Sequence[int | tuple[int, int]]


class _Conv(nn.Module):
    """Shared body of :class:`Conv1D` and :class:`Conv2D` (``ndim`` spatial axes)."""

    features: int
    kernel_size: int | Sequence[int]
    stride: int | Sequence[int] = 1
    padding: Padding = "VALID"
    dilation: int | Sequence[int] = 1
    groups: int = 1
    use_bias: bool = True
    flip: bool = False
    kernel_init: Callable[..., Any] = default_kernel_init
    bias_init: Callable[..., Any] = default_bias_init
    param_dtype: Any = jnp.float32
    dtype: Any = None  # computation dtype (as Flax): None = as given, else x, kernel, bias cast

    ndim: ClassVar[int] = 0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        n = self.ndim
        c_in, window, features, groups = _geometry(self, x)
        kernel, bias = _kernel_and_bias(self, (*window, c_in // groups, features), features)
        if self.dtype is not None:  # mixed precision: float32 parameters, compute in dtype
            x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
        conv = conv1d if n == 1 else conv2d
        return conv(
            x,
            kernel,
            bias,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=groups,
            flip=self.flip,
        )


class Conv1D(_Conv):
    """1D convolution layer (cross-correlation unless ``flip``): ``(N, W, C) -> (N, W', features)``.

    Attributes:
      features: output channels.
      kernel_size: int or 1-tuple ``K``.
      stride, padding, dilation, groups, flip: as :func:`jaxcnn.functional.conv1d`
        (padding ``"VALID"``, ``"SAME"``, ``"FULL"``, ``"CAUSAL"``, an int or ``(low, high)``).
      use_bias: add a ``(features,)`` bias.
      kernel_init, bias_init: initialisers (default ``lecun_normal`` / zeros; see module doc).
      param_dtype: dtype of the parameters.
      dtype: dtype of the computation (``None``: the inputs' and parameters' own; e.g.
        ``jnp.bfloat16`` with float32 parameters for mixed precision).

    Parameters: ``kernel (K, C_in // groups, features)`` (WIO), ``bias (features,)``.

    ``__call__(x)``: ``x`` of shape ``(N, W, C_in)`` (NWC). Returns ``(N, W_out, features)``
    with ``W_out = (W + low + high - dilation * (K - 1) - 1) // stride + 1``.

    Raises:
      ValueError / TypeError: wrong rank, ``groups`` not dividing the channels, non-positive
        sizes, and every error of :func:`jaxcnn.functional.conv1d`.
    """

    ndim: ClassVar[int] = 1


class Conv2D(_Conv):
    """2D convolution layer: ``(N, H, W, C) -> (N, H', W', features)``.

    Attributes: as :class:`Conv1D`, with ``kernel_size`` an int or ``(KH, KW)`` and ``stride``,
    ``dilation``, ``padding`` per axis (see :func:`jaxcnn.functional.conv2d`; no ``"CAUSAL"``).

    Parameters: ``kernel (KH, KW, C_in // groups, features)`` (HWIO), ``bias (features,)``.

    ``__call__(x)``: ``x`` of shape ``(N, H, W, C_in)`` (NHWC). Returns
    ``(N, H_out, W_out, features)``, each ``(size + low + high - d * (k - 1) - 1) // s + 1``.

    Raises:
      ValueError / TypeError: as :class:`Conv1D`.
    """

    ndim: ClassVar[int] = 2


class _ConvTranspose(nn.Module):
    """Shared body of the transposed convolutions."""

    features: int
    kernel_size: int | Sequence[int]
    stride: int | Sequence[int] = 1
    padding: int | Sequence[int] = 0
    output_padding: int | Sequence[int] = 0
    dilation: int | Sequence[int] = 1
    groups: int = 1
    use_bias: bool = True
    kernel_init: Callable[..., Any] = default_kernel_init
    bias_init: Callable[..., Any] = default_bias_init
    param_dtype: Any = jnp.float32
    dtype: Any = None  # computation dtype (as Flax): None = as given, else x, kernel, bias cast

    ndim: ClassVar[int] = 0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        n = self.ndim
        c_in, window, features, groups = _geometry(self, x)
        # The kernel of the conv features -> C_in that this layer is the adjoint of.
        kernel, bias = _kernel_and_bias(self, (*window, features // groups, c_in), features)
        if self.dtype is not None:  # mixed precision: float32 parameters, compute in dtype
            x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
        conv_t = conv_transpose1d if n == 1 else conv_transpose2d
        return conv_t(
            x,
            kernel,
            bias,
            stride=self.stride,
            padding=self.padding,
            output_padding=self.output_padding,
            dilation=self.dilation,
            groups=groups,
        )


class ConvTranspose1D(_ConvTranspose):
    """1D transposed convolution (the adjoint of a conv): ``(N, W, C) -> (N, W', features)``.

    Shapes and values as PyTorch's ``ConvTranspose1d`` with the same integer arguments.

    Attributes:
      features: output channels (``C_b``).
      kernel_size: int or 1-tuple ``K``.
      stride, padding, output_padding, dilation, groups: as
        :func:`jaxcnn.functional.conv_transpose1d` (``padding`` is the conv's symmetric int).
      use_bias, kernel_init, bias_init, param_dtype: as :class:`Conv1D`. The default
        ``lecun_normal`` sees ``fan_in = K * features / groups`` (the kernel's ``I`` axis), the
        same number PyTorch's initialiser computes for ``ConvTranspose1d``.

    Parameters: ``kernel (K, features // groups, C_in)`` (WIO of the conv ``features -> C_in``),
    ``bias (features,)``.

    ``__call__(x)``: ``x`` of shape ``(N, W, C_in)``. Returns ``(N, W_out, features)``,
    ``W_out = (W - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1``.

    Raises:
      ValueError / TypeError: wrong rank, ``groups`` not dividing the channels, and every error
        of the functional transposed convolution.
    """

    ndim: ClassVar[int] = 1


class ConvTranspose2D(_ConvTranspose):
    """2D transposed convolution: ``(N, H, W, C) -> (N, H', W', features)``.

    Attributes and initialisation as :class:`ConvTranspose1D`, per spatial axis.

    Parameters: ``kernel (KH, KW, features // groups, C_in)`` (HWIO), ``bias (features,)``.

    ``__call__(x)``: ``x`` of shape ``(N, H, W, C_in)`` (NHWC). Returns
    ``(N, H_out, W_out, features)``, each
    ``(size - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.

    Raises:
      ValueError / TypeError: as :class:`ConvTranspose1D`.
    """

    ndim: ClassVar[int] = 2


def _geometry(layer, x) -> tuple[int, tuple[int, ...], int, int]:
    """Checked ``(C_in, window, features, groups)`` of a (transposed) conv layer on input ``x``."""
    fn, n = type(layer).__name__, layer.ndim
    c_in = _check_input(x, n, fn)
    window = _checks.positive(
        _checks.ntuple(layer.kernel_size, n, fn, "kernel_size"), fn, "kernel_size"
    )
    features, groups = _features_groups(layer.features, layer.groups, fn)
    if c_in % groups:
        raise ValueError(f"{fn}: groups must divide the input channels {c_in}, got {groups}")
    return c_in, window, features, groups


def _kernel_and_bias(layer, kernel_shape: tuple[int, ...], features: int):
    """The layer's ``"kernel"`` of ``kernel_shape`` and its ``"bias"`` ``(features,)`` (or None)."""
    kernel = layer.param("kernel", layer.kernel_init, kernel_shape, layer.param_dtype)
    if not layer.use_bias:
        return kernel, None
    return kernel, layer.param("bias", layer.bias_init, (features,), layer.param_dtype)


def _check_input(x, n: int, fn: str) -> int:
    """Check ``x`` is ``(N, *spatial, C)`` with ``n`` spatial axes; return ``C``."""
    shape = _checks.rank(x, n + 2, fn, "x", _LAYOUT[n])
    return shape[-1]


def _features_groups(features, groups, fn: str) -> tuple[int, int]:
    features = _checks.positive_int(features, fn, "features")
    groups = _checks.positive_int(groups, fn, "groups")
    if features % groups:
        raise ValueError(f"{fn}: groups must divide features {features}, got {groups}")
    return features, groups
