"""Which CPU lowerings can take a convolution, and the fallback rule among them.

Lowerings (every one gives the numbers of ``lax.conv_general_dilated`` to float tolerance, and
the same gradients, for every argument it accepts):

* ``"lax"``: one ``lax.conv_general_dilated`` (:mod:`.lax_conv`); any arguments.
* ``"patches"``: a patch matrix and one matmul (:mod:`.patches`); any arguments.
* ``"rows"``: kernel rows stacked on the channel axis, then one 1-D ``lax`` convolution
  (:mod:`.rows`); 2-D with ``groups == 1`` only.
* ``"lanes"``: channels-first fused multiply-adds for few channels (:mod:`.lanes`);
  ``groups == 1`` and a small kernel only.

``"auto"`` measures the candidates (:mod:`.autotune`). When it does not measure (the tuner is
off: ``JAXCNN_AUTOTUNE=0`` or ``jaxcnn.config.autotune(False)``; a symbolic shape under
``jax.export``; tracing on a machine whose default backend is not the CPU) it uses
:func:`fallback_lowering`, a rule measured on one 2-core AMD EPYC (docs/performance.md):
``"lanes"`` for at most 4 input and output channels and 25 taps, ``"rows"`` for other 2-D
convolutions whose row stack stays under :data:`ROWS_MAX_ELEMENTS`, else ``"lax"``.
"""

from __future__ import annotations

import math

from jaxcnn._cpu.lanes import lanes_supported
from jaxcnn._cpu.rows import rows_supported

#: Every lowering a CPU convolution can be forced to (``jaxcnn.config.lowering``).
LOWERINGS: tuple[str, ...] = ("lax", "patches", "rows", "lanes")

_LANES_MAX_CHANNELS = 4
_LANES_MAX_WINDOW = 25
#: The largest row stack (N * output rows * padded width * KH * C_in elements) the rule builds:
#: 2**27 is 512 MiB of float32; LeNet's second layer at batch 256 needs 10M (40 MB).
ROWS_MAX_ELEMENTS = 2**27


def why_unsupported(
    name: str, n_spatial: int, kernel_shape: tuple[int, ...], groups: int
) -> str | None:
    """Why lowering ``name`` cannot take a convolution, or ``None`` when it can.

    Args:
      name: one of :data:`LOWERINGS`.
      n_spatial: 1 (``conv1d``) or 2 (``conv2d``).
      kernel_shape: ``(*window, C_in // groups, C_out)``.
      groups: the convolution's groups.

    Returns:
      ``None``, or a phrase for a ``ValueError`` message.
    """
    if name == "lanes":
        return lanes_supported(kernel_shape, groups)
    if name == "rows":
        return rows_supported(n_spatial, groups)
    return None


def candidates(n_spatial: int, kernel_shape: tuple[int, ...], groups: int) -> tuple[str, ...]:
    """The lowerings that can take a convolution, in :data:`LOWERINGS` order."""
    return tuple(
        name for name in LOWERINGS if why_unsupported(name, n_spatial, kernel_shape, groups) is None
    )


def fallback_lowering(
    x_shape: tuple, kernel_shape: tuple[int, ...], strides: tuple[int, ...], groups: int
) -> str:
    """The lowering ``"auto"`` uses when it does not measure.

    Args:
      x_shape: ``(N, *spatial, C_in)``; ``N`` may be symbolic (``jax.export``).
      kernel_shape: ``(*window, C_in // groups, C_out)``.
      strides: one int per spatial axis (sizes the row stack).
      groups: the convolution's groups.

    Returns:
      With ``groups == 1``: ``"lanes"`` when ``C_in <= 4``, ``C_out <= 4`` and the window has at
      most 25 taps; else ``"rows"`` for two spatial axes and a row stack of at most
      :data:`ROWS_MAX_ELEMENTS` (any size with a symbolic batch, which the rows lowering does
      not chunk); else ``"lax"``. Always ``"lax"`` for ``groups > 1``.
    """
    if groups != 1:
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
        (h, w), kh = x_shape[1:-1], window[0]
        per_image = -(-h // strides[0]) * (w + window[1]) * kh * c_in
        if not isinstance(x_shape[0], int) or x_shape[0] * per_image <= ROWS_MAX_ELEMENTS:
            return "rows"
    return "lax"
