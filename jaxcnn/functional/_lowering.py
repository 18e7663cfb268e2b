"""Which lowering a convolution uses: the rule behind ``lowering="auto"``, and the checks.

Lowerings (every one gives the numbers of ``lax.conv_general_dilated`` to float tolerance, and
the same gradients, for every argument it accepts):

* ``"lax"``: one ``lax.conv_general_dilated`` (cuDNN on GPU, XLA's own convolution on CPU).
* ``"patches"``: a patch matrix and one matmul (:mod:`._lowering_patches`); any arguments.
* ``"lanes"``: channels-first fused multiply-adds for few channels (:mod:`._lowering_lanes`);
  ``groups == 1`` and a small kernel only, otherwise a ``ValueError`` says why.

The rule (:func:`choose_lowering`) comes from ``benchmarks/conv_speed.py --layers`` on the idle
2-core AVX-512 CPU (forward plus both gradients, eleven layer shapes, numbers in
``docs/performance.md``). The lanes lowering ran the notes' 3x3 1-to-3 and 3-to-3 layers 5.6x
and 1.6x faster than XLA's convolution. The patch matrix won on every 2-D layer whose input has
one channel or whose output has 64 or more (LeNet's two layers 1.4x and 1.5x, the images CNN's
32-to-64 layer 1.4x, the ResNet's 64-to-64 layer 1.5x) and lost on the ResNet's 16-to-16 and
32-to-32 layers (0.6x) and on every 1-D layer (Kim's and the notes' text conv, 0.7-0.9x): the
patch matrix costs ``prod(window)`` copies of the input, which only enough output channels (or
XLA's poor single-channel convolution) pay back. So on the CPU ``"auto"`` picks ``"lanes"`` for
few channels, ``"patches"`` for those 2-D layers while the patch matrix stays under
:data:`PATCHES_MAX_ELEMENTS`, and ``"lax"`` otherwise; on GPU and TPU it always picks ``"lax"``
(cuDNN), as nothing was measured there.
"""

from __future__ import annotations

import math

import jax

from jaxcnn.functional._lowering_lanes import lanes_supported

#: Every lowering name a convolution accepts besides ``"auto"``.
LOWERINGS: tuple[str, ...] = ("lax", "patches", "lanes")

# "lanes" wins while the channel axis is too short for the vector lanes (measured: 3 -> 3).
_LANES_MAX_CHANNELS = 4
_LANES_MAX_WINDOW = 25
# "patches" pays back its prod(window) copies of the input with enough output channels.
_PATCHES_MIN_OUT_CHANNELS = 64
#: The largest patch matrix (N * output positions * prod(window) * C_in floats) "auto" builds:
#: 2**27 floats is 512 MiB in float32; LeNet's second layer at batch 256 needs 40M (160 MB).
PATCHES_MAX_ELEMENTS = 2**27


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
      stride: one int per spatial axis (sizes the patch matrix).
      dilation: one int per spatial axis (accepted for a rule that needs it; this one does not).
      groups: the convolution's groups.

    Returns:
      On the CPU with ``groups == 1``: ``"lanes"`` when ``C_in <= 4``, ``C_out <= 4`` and the
      window has at most 25 taps; else ``"patches"`` for two spatial axes with ``C_in == 1`` or
      ``C_out >= 64`` and a patch matrix of at most :data:`PATCHES_MAX_ELEMENTS`; else
      ``"lax"``. Always ``"lax"`` on GPU and TPU and for ``groups > 1``.
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
    if len(window) == 2 and (c_in == 1 or c_out >= _PATCHES_MIN_OUT_CHANNELS):
        # Output positions estimated as ceil(size / stride): padding moves them by a few.
        positions = math.prod(-(-size // s) for size, s in zip(x_shape[1:-1], stride, strict=True))
        if x_shape[0] * positions * math.prod(window) * c_in <= PATCHES_MAX_ELEMENTS:
            return "patches"
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
    if name == "lanes":
        why = lanes_supported(kernel_shape, groups)
        if why is not None:
            raise ValueError(f"{fn}: {why}")
    return name
