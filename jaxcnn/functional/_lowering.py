"""Which lowering a convolution uses: the rule behind ``lowering="auto"``, and the checks.

Lowerings (every one gives the numbers of ``lax.conv_general_dilated`` to float tolerance, and
the same gradients, for every argument it accepts):

* ``"lax"``: one ``lax.conv_general_dilated`` (cuDNN on GPU, XLA's own convolution on CPU).
* ``"patches"``: a patch matrix and one matmul (:mod:`._lowering_patches`); any arguments.
* ``"lanes"``: channels-first fused multiply-adds for few channels (:mod:`._lowering_lanes`);
  ``groups == 1`` and a small kernel only, otherwise a ``ValueError`` says why.

The rule (:func:`choose_lowering`) comes from ``benchmarks/conv_speed.py --layers`` on a 2-core
AVX-512 CPU under load (numbers in ``docs/performance.md``): the lanes lowering ran the
3x3, 3-to-3-channel layer of the notes' CNN about 4x faster forward and 1.7x faster forward plus
backward than XLA's convolution, while for 1 or more input channels feeding 32 or more outputs
(LeNet) XLA's convolution beat both other lowerings, the patch matrix losing to memory
traffic. So on the CPU ``"auto"`` picks ``"lanes"`` for few channels and ``"lax"`` otherwise;
on GPU and TPU it always picks ``"lax"`` (cuDNN), as nothing was measured there.
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
      stride, dilation: one int per spatial axis (accepted for a rule that needs them; the
        measured rule does not).
      groups: the convolution's groups.

    Returns:
      ``"lanes"`` on the CPU when ``groups == 1``, ``C_in <= 4``, ``C_out <= 4`` and the window
      has at most 25 taps; ``"lax"`` in every other case (always on GPU and TPU).
    """
    del stride, dilation
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
