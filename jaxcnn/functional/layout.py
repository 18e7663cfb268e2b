"""Move data and weights between PyTorch's channels-first layouts and jaxcnn's channels-last.

Activations: ``NCW <-> NWC``, ``NCHW <-> NHWC`` (``NC + spatial <-> N + spatial + C``).
Kernels: PyTorch ``Conv*d.weight`` is ``(C_out, C_in // groups, *window)`` (OIW / OIHW);
jaxcnn's is ``(*window, C_in // groups, C_out)`` (WIO / HWIO).

Transposed convolutions need no separate rule: PyTorch's ``ConvTranspose*d.weight``
``(C_a, C_b // groups, *window)`` is the OIHW weight of the conv ``C_b -> C_a`` it is the
adjoint of, and jaxcnn's ``conv_transpose*d`` takes that conv's HWIO kernel, so the same
permutation serves both, for any ``groups``.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxcnn import _checks


def to_channels_last(x, spatial_dims: int | None = None):
    """``(N, C, *spatial) -> (N, *spatial, C)``, e.g. NCHW -> NHWC.

    Args:
      x: array of shape ``(N, C, *spatial)``.
      spatial_dims: number of spatial axes; ``None`` infers it from ``x.ndim`` in {3, 4}
        (1 or 2 spatial axes). Any other rank needs it stated.

    Returns:
      Shape ``(N, *spatial, C)``, same dtype.

    Raises:
      TypeError: ``x`` is not an array, or ``spatial_dims`` is not an int.
      ValueError: ``x.ndim != spatial_dims + 2``, ``spatial_dims < 1``, or an uninferable rank.
    """
    n = _spatial_dims(x, spatial_dims, "to_channels_last")
    return jnp.transpose(x, (0, *range(2, n + 2), 1))


def to_channels_first(x, spatial_dims: int | None = None):
    """``(N, *spatial, C) -> (N, C, *spatial)``, e.g. NHWC -> NCHW.

    Args:
      x: array of shape ``(N, *spatial, C)``.
      spatial_dims: as :func:`to_channels_last`.

    Returns:
      Shape ``(N, C, *spatial)``, same dtype.

    Raises:
      TypeError, ValueError: as :func:`to_channels_last`.
    """
    n = _spatial_dims(x, spatial_dims, "to_channels_first")
    return jnp.transpose(x, (0, n + 1, *range(1, n + 1)))


def kernel_from_torch(w, transposed: bool = False, groups: int = 1):
    """PyTorch conv weight -> jaxcnn kernel: ``(O, I, *window) -> (*window, I, O)``.

    Args:
      w: ``Conv1d/2d.weight`` ``(C_out, C_in // groups, *window)``, or with
        ``transposed=True`` ``ConvTranspose1d/2d.weight`` ``(C_a, C_b // groups, *window)``.
        Rank 3 (1D) or 4 (2D).
      transposed: the weight belongs to a transposed convolution. The permutation is the same
        (see the module docstring); the flag only selects the checks and the message.
      groups: the layer's ``groups``; checked to divide the output (``C_out``) or, for a
        transposed weight, the input (``C_a``) channel count, i.e. ``w.shape[0]``.

    Returns:
      ``(*window, C_in // groups, C_out)`` (WIO / HWIO): the kernel for ``conv1d/2d``, or for
      ``conv_transpose1d/2d`` (the HWIO kernel of the conv ``C_b -> C_a``).

    Raises:
      TypeError: ``w`` is not an array or ``groups`` not an int.
      ValueError: rank not 3 or 4, non-positive ``groups``, or ``groups`` not dividing
        ``w.shape[0]``.
    """
    fn = "kernel_from_torch"
    layout = "(C_a, C_b // groups, *window)" if transposed else "(O, I, *window)"
    shape = _kernel_rank(w, fn, "w", layout)
    (groups,) = _checks.positive(_checks.ntuple(groups, 1, fn, "groups"), fn, "groups")
    if shape[0] % groups:
        what = "input channels C_a" if transposed else "output channels C_out"
        raise ValueError(
            f"{fn}: groups must divide the {what} (w.shape[0] = {shape[0]}), got {groups}"
        )
    n = len(shape) - 2
    return jnp.transpose(w, (*range(2, n + 2), 1, 0))


def kernel_to_torch(kernel):
    """jaxcnn kernel -> PyTorch conv weight: ``(*window, I, O) -> (O, I, *window)``.

    The inverse of :func:`kernel_from_torch` (for plain and transposed weights alike).

    Args:
      kernel: ``(K, I, O)`` (WIO) or ``(KH, KW, I, O)`` (HWIO).

    Returns:
      ``(O, I, K)`` or ``(O, I, KH, KW)``.

    Raises:
      TypeError: not an array. ValueError: rank not 3 or 4.
    """
    shape = _kernel_rank(kernel, "kernel_to_torch", "kernel", "(*window, I, O)")
    n = len(shape) - 2
    return jnp.transpose(kernel, (n + 1, n, *range(n)))


def _spatial_dims(x, spatial_dims, fn: str) -> int:
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"{fn}: x must be an array, got {type(x).__name__}")
    if spatial_dims is None:
        if len(shape) not in (3, 4):
            raise ValueError(
                f"{fn}: x must have rank 3 or 4 unless spatial_dims is given, "
                f"got shape {tuple(shape)}"
            )
        return len(shape) - 2
    (n,) = _checks.positive(_checks.ntuple(spatial_dims, 1, fn, "spatial_dims"), fn, "spatial_dims")
    if len(shape) != n + 2:
        raise ValueError(
            f"{fn}: x must have rank {n + 2} (spatial_dims + 2), got shape {tuple(shape)}"
        )
    return n


def _kernel_rank(w, fn: str, arg: str, layout: str) -> tuple[int, ...]:
    shape = getattr(w, "shape", None)
    if shape is None:
        raise TypeError(f"{fn}: {arg} must be an array {layout}, got {type(w).__name__}")
    if len(shape) not in (3, 4):
        raise ValueError(f"{fn}: {arg} must have rank 3 or 4 {layout}, got shape {tuple(shape)}")
    return tuple(shape)
