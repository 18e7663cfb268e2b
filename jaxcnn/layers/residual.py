"""Basic residual blocks (He et al. 2016): ``relu(branch(x) + shortcut(x))``.

``branch``: conv k x k (stride ``stride``, padding ``k // 2``) -> norm -> relu -> conv k x k
(stride 1, padding ``k // 2``) -> norm. ``shortcut``: the identity when the shapes match
(``stride == 1`` and ``C_in == features``), else a 1 x 1 conv with stride ``stride`` (the
projection shortcut, "option B") followed by a norm. With ``norm=True`` the convs have no bias
(the batch norm's shift replaces it); with ``norm=False`` they have one and there is no norm.
Spatial size out: ``(size - 1) // stride + 1`` on each axis, for the branch and the shortcut alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import jax
from flax import linen as nn

from jaxcnn import _checks
from jaxcnn.layers.conv import Conv1D, Conv2D
from jaxcnn.layers.init import default_kernel_init
from jaxcnn.layers.norm import BatchNorm

_LAYOUT = {1: "(N, W, C)", 2: "(N, H, W, C)"}


class _Residual(nn.Module):
    features: int
    stride: int = 1
    norm: bool = True
    kernel_size: int = 3
    zero_init_residual: bool = False
    kernel_init: Callable[..., Any] = default_kernel_init

    ndim: ClassVar[int] = 0

    @nn.compact
    def __call__(self, x, train: bool = False) -> jax.Array:
        fn, n = type(self).__name__, self.ndim
        c_in = _checks.rank(x, n + 2, fn, "x", _LAYOUT[n])[-1]
        features = _checks.positive_int(self.features, fn, "features")
        stride = _checks.positive_int(self.stride, fn, "stride")
        k = _checks.positive_int(self.kernel_size, fn, "kernel_size")
        if k % 2 == 0:
            raise ValueError(
                f"{fn}: kernel_size must be odd (so padding k // 2 keeps the size), got {k}"
            )
        conv = Conv1D if n == 1 else Conv2D
        bias = not self.norm

        def norm_layer(h, name, zero=False):
            if not self.norm:
                return h
            scale_init = nn.initializers.zeros_init() if zero else nn.initializers.ones_init()
            return BatchNorm(scale_init=scale_init, name=name)(h, train=train)

        h = conv(
            features,
            k,
            stride=stride,
            padding=k // 2,
            use_bias=bias,
            kernel_init=self.kernel_init,
            name="conv1",
        )(x)
        h = nn.relu(norm_layer(h, "norm1"))
        h = conv(
            features, k, padding=k // 2, use_bias=bias, kernel_init=self.kernel_init, name="conv2"
        )(h)
        h = norm_layer(h, "norm2", zero=self.zero_init_residual)
        if stride == 1 and c_in == features:
            shortcut = x
        else:
            shortcut = conv(
                features, 1, stride=stride, use_bias=bias, kernel_init=self.kernel_init, name="proj"
            )(x)
            shortcut = norm_layer(shortcut, "proj_norm")
        return nn.relu(h + shortcut)


class ResidualBlock2D(_Residual):
    """Basic two-conv residual block on NHWC batches (see the module doc for the structure).

    Attributes:
      features: output channels.
      stride: int >= 1 of the first conv and of the projection shortcut.
      norm: put a :class:`BatchNorm` after each conv (convs then have no bias).
      kernel_size: odd int (default 3).
      zero_init_residual: start the last norm's scale at 0 so the block starts as
        ``relu(shortcut)`` (Goyal et al. 2017); default ``False`` (ones).
      kernel_init: conv kernel initialiser (default ``lecun_normal``; PyTorch's ResNet uses
        ``kaiming_normal(fan_out)``, ``nn.initializers.variance_scaling(2.0, "fan_out",
        "normal")``).

    Parameters: ``conv1``, ``conv2`` (and ``proj`` when projecting) HWIO kernels; ``norm1``,
    ``norm2`` (and ``proj_norm``) scale / bias and ``"batch_stats"`` when ``norm``.

    ``__call__(x, train=False)``: ``x`` of shape ``(N, H, W, C_in)``. Returns
    ``(N, (H - 1) // stride + 1, (W - 1) // stride + 1, features)``.

    Raises:
      ValueError / TypeError: wrong rank, non-positive ``features`` / ``stride``, an even
        ``kernel_size``.
    """

    ndim: ClassVar[int] = 2


class ResidualBlock1D(_Residual):
    """Basic two-conv residual block on NWC batches (as :class:`ResidualBlock2D`, one axis).

    ``__call__(x, train=False)``: ``x`` of shape ``(N, W, C_in)``. Returns
    ``(N, (W - 1) // stride + 1, features)``.

    Raises:
      ValueError / TypeError: as :class:`ResidualBlock2D`.
    """

    ndim: ClassVar[int] = 1
