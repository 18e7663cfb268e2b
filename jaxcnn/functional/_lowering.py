"""Which lowering a convolution uses: the rule behind ``lowering="auto"``, and the checks.

Lowerings (every one gives the numbers of ``lax.conv_general_dilated`` to float tolerance, and
the same gradients, for every argument it accepts):

* ``"lax"``: one ``lax.conv_general_dilated`` (cuDNN on GPU, XLA's own convolution on CPU).
* ``"patches"``: a patch matrix and one matmul (:mod:`._lowering_patches`); any arguments.
* ``"rows"``: kernel rows stacked on the channel axis, then one 1-D ``lax`` convolution
  (:mod:`._lowering_rows`); 2-D with ``groups == 1`` only.
* ``"lanes"``: channels-first fused multiply-adds for few channels (:mod:`._lowering_lanes`);
  ``groups == 1`` and a small kernel only.

A forced lowering that cannot take the arguments raises a ``ValueError`` that says why.

The rule (:func:`choose_lowering`) comes from ``benchmarks/conv_speed.py --layers`` on the
2-core AVX-512 CPU (forward plus both gradients, eleven layer shapes; numbers in
``docs/performance.md``) and from whole training steps. XLA runs its 2-D convolution on one
core and its 1-D convolution on both, so the row stack, which turns a 2-D convolution into a
1-D one for ``KH`` copies of the input, was fastest or within 15% of the fastest on every 2-D
layer with more than four channels (LeNet's 32-to-64 layer 188 ms against 248 for the patch
matrix and 516 for XLA's 2-D convolution; the ResNet's 64-to-64 layer 14 against 24 and 34),
and the whole LeNet step ran 1,020 samples/s against 766 with the patch matrix. The lanes
lowering ran the notes' 3x3 1-to-3 and 3-to-3 layers 9x and 4x faster than XLA's convolution
(with its own input and kernel gradients). 1-D layers stay on XLA's convolution, which the
others did not beat (Kim's and the notes' text conv). So on the CPU ``"auto"`` picks
``"lanes"`` for few channels, ``"rows"`` for the other 2-D layers while the row stack stays
under :data:`ROWS_MAX_ELEMENTS`, and ``"lax"`` otherwise; on GPU and TPU it always picks
``"lax"`` (cuDNN), as nothing was measured there.
"""

from __future__ import annotations

import math

import jax

from jaxcnn import config
from jaxcnn.functional._lowering_lanes import lanes_supported
from jaxcnn.functional._lowering_rows import rows_supported

#: Every lowering name a convolution accepts besides ``"auto"`` (from :mod:`jaxcnn.config`).
LOWERINGS: tuple[str, ...] = tuple(n for n in config.SUPPORTED_LOWERINGS if n != "auto")

# "lanes" wins while the channel axis is too short for the vector lanes (measured: 3 -> 3).
_LANES_MAX_CHANNELS = 4
_LANES_MAX_WINDOW = 25
#: The largest row stack (N * output rows * padded width * KH * C_in elements) "auto" builds:
#: 2**27 is 512 MiB of float32; LeNet's second layer at batch 256 needs 10M (40 MB).
ROWS_MAX_ELEMENTS = 2**27


def choose_lowering(
    backend: str,
    x_shape: tuple[int, ...],
    kernel_shape: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    groups: int,
) -> str:
    """The lowering ``"auto"`` resolves to for one convolution.

    Args:
      backend: ``jax.default_backend()`` (``"cpu"``, ``"gpu"``, ``"tpu"``, ...).
      x_shape: ``(N, *spatial, C_in)``.
      kernel_shape: ``(*window, C_in // groups, C_out)``.
      stride: one int per spatial axis (sizes the row stack).
      dilation: one int per spatial axis (accepted for a rule that needs it; this one does not).
      groups: the convolution's groups.

    Returns:
      On the CPU with ``groups == 1``: ``"lanes"`` when ``C_in <= 4``, ``C_out <= 4`` and the
      window has at most 25 taps; else ``"rows"`` for two spatial axes and a row stack of at
      most :data:`ROWS_MAX_ELEMENTS`; else ``"lax"``. Always ``"lax"`` on GPU and TPU and for
      ``groups > 1``.
    """
    del dilation
    if backend != "cpu" or groups != 1:
        return "lax"
    window = kernel_shape[:-2]
    c_in, c_out = x_shape[-1], kernel_shape[-1]
    if (
        c_in <= _LANES_MAX_CHANNELS
        and c_out <= _LANES_MAX_CHANNELS
        and math.prod(window) <= _LANES_MAX_WINDOW
    ):
        return "lanes"
    if len(window) == 2:
        # Output rows estimated as ceil(H / stride), width as W + KW: padding moves them by a few.
        (h, w), kh = x_shape[1:-1], window[0]
        stack = x_shape[0] * -(-h // stride[0]) * (w + window[1]) * kh * c_in
        if stack <= ROWS_MAX_ELEMENTS:
            return "rows"
    return "lax"


def resolve_lowering(
    name: str,
    x_shape: tuple[int, ...],
    kernel_shape: tuple[int, ...],
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    groups: int,
    fn: str,
) -> str:
    """The concrete lowering a convolution runs: ``"auto"`` resolved, a forced one checked.

    Args:
      name: ``"auto"``, or one of :data:`LOWERINGS`.
      x_shape: ``(N, *spatial, C_in)``; kernel_shape: ``(*window, C_in // groups, C_out)``;
      strides, dilations, groups: already checked.
      fn: the public function name for error messages.

    Returns:
      One of :data:`LOWERINGS`.

    Raises:
      ValueError: an unknown name, or a forced lowering that does not support these arguments.
    """
    if name == "auto":
        return choose_lowering(
            jax.default_backend(), x_shape, kernel_shape, strides, dilations, groups
        )
    if name not in LOWERINGS:
        raise ValueError(f"{fn}: lowering must be one of {['auto', *LOWERINGS]}, got {name!r}")
    why = None
    if name == "lanes":
        why = lanes_supported(kernel_shape, groups)
    elif name == "rows":
        why = rows_supported(len(x_shape) - 2, groups)
    if why is not None:
        raise ValueError(f"{fn}: {why}")
    return name
