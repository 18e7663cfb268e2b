"""The CPU convolutions: pick a lowering (forced, measured or by rule), then run it.

:func:`conv` and :func:`conv_transpose` are what ``jaxcnn.functional``'s backend boundary
runs on the CPU; their arguments are already checked and canonical.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from collections.abc import Callable, Iterator

import jax
import numpy as np
from jax import lax

from jaxcnn import config
from jaxcnn._cpu import autotune, xla_options
from jaxcnn._cpu.lanes import conv_lanes
from jaxcnn._cpu.lax_conv import DIMS, conv_lax
from jaxcnn._cpu.patches import conv_patches
from jaxcnn._cpu.rows import conv_rows
from jaxcnn._cpu.rule import candidates, fallback_lowering, why_unsupported
from jaxcnn._cpu.subpixel import conv_transpose_phases
from jaxcnn._cpu.xla_guards import pad_then_crop

# Every lowering takes already-checked, canonical arguments (the signature of ``conv_lax``).
LOWERING_FUNCTIONS = {
    "lax": conv_lax,
    "patches": conv_patches,
    "rows": conv_rows,
    "lanes": conv_lanes,
}

Pads = tuple[tuple[int, int], ...]

_RECORD: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "jaxcnn_cpu_record", default=None
)


@contextlib.contextmanager
def record_choices() -> Iterator[list[dict]]:
    """Collect the lowering each CPU convolution traced inside the block runs (benchmarks).

    Yields:
      A list that gets one ``{"fn", "x", "kernel", "strides", "dilations", "groups",
      "lowering", "how", "xla"}`` dict per convolution traced (``how``: ``"forced"``,
      ``"measured"`` (or read from the tuner's cache) or ``"rule"``; ``xla``: the XLA option
      set it was tuned for, `jaxcnn._cpu.xla_options`).
    """
    record: list[dict] = []
    token = _RECORD.set(record)
    try:
        yield record
    finally:
        _RECORD.reset(token)


def conv(
    x: jax.Array,
    kernel: jax.Array,
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: Pads,
    groups: int,
    fn: str,
) -> jax.Array:
    """Cross-correlation ``(N, *spatial, C_in) x (*window, C_in // groups, C_out)`` on the CPU.

    Args:
      x, kernel: NWC/NHWC and WIO/HWIO, one dtype, the kernel already flipped if needed.
      strides, dilations: positive ints per spatial axis; pads: ``(low, high) >= 0`` per axis.
      groups: divides both channel counts.
      fn: the public function, for messages.

    Returns:
      ``(N, *out, C_out)``, as ``lax.conv_general_dilated``.

    Raises:
      ValueError: a forced lowering (``jaxcnn.config.lowering``) that cannot take the arguments.
    """
    name = choose(x.shape, kernel.shape, x.dtype, strides, dilations, pads, groups, fn)
    return LOWERING_FUNCTIONS[name](x, kernel, strides, dilations, pads, groups)


def choose(
    x_shape: tuple,
    kernel_shape: tuple[int, ...],
    dtype: np.dtype,
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: Pads,
    groups: int,
    fn: str,
) -> str:
    """The lowering a CPU convolution runs: forced, else measured (cached), else by rule.

    Returns:
      A key of :data:`LOWERING_FUNCTIONS`.

    Raises:
      ValueError: a forced lowering that cannot take the arguments.
    """
    n = len(kernel_shape) - 2
    forced = config.default_lowering()
    if forced != "auto":
        check_forced(forced, n, kernel_shape, groups, fn)
        name, how = forced, "forced"
    else:
        name, how = _auto(x_shape, kernel_shape, dtype, strides, dilations, pads, groups)
    record = _RECORD.get()
    if record is not None and not xla_options.planned():  # a plan's trace is not the program
        record.append(
            {
                "fn": fn,
                "x": [d if isinstance(d, int) else str(d) for d in x_shape],
                "kernel": list(kernel_shape),
                "strides": list(strides),
                "dilations": list(dilations),
                "groups": groups,
                "lowering": name,
                "how": how,
                "xla": xla_options.current(),
            }
        )
    return name


def _auto(x_shape, kernel_shape, dtype, strides, dilations, pads, groups) -> tuple[str, str]:
    """``"auto"``: ``(lowering, "measured")`` from the tuner, or ``(lowering, "rule")``."""
    n = len(kernel_shape) - 2
    concrete = all(isinstance(d, int) and d > 0 for d in x_shape)
    # Measure only with concrete shapes and where the CPU is the backend the process computes
    # on (tracing for a GPU also traces this branch, which then takes the rule). A batch of one
    # is the shape of `init`, shape inference and FLOP counting: measuring it compiles every
    # candidate (seconds per convolution, a third of the shapes a fresh main job met) to save
    # microseconds in programs that run once, so it takes the rule too.
    measurable = concrete and config.autotune_enabled() and jax.default_backend() == "cpu"
    if not measurable or x_shape[0] == 1:
        return fallback_lowering(x_shape, kernel_shape, strides, groups), "rule"
    names = candidates(n, kernel_shape, groups)
    key = (
        f"conv{n}d x={tuple(x_shape)} k={tuple(kernel_shape)} {np.dtype(dtype).name} "
        f"s={tuple(strides)} d={tuple(dilations)} p={tuple(map(tuple, pads))} g={groups}"
    )

    def time_under(variant: str) -> Callable[[str], float]:
        """Times a candidate compiled with an XLA option variant's options."""

        def time_one(name: str) -> float:
            f = functools.partial(
                LOWERING_FUNCTIONS[name],
                strides=strides,
                dilations=dilations,
                pads=pads,
                groups=groups,
            )
            return autotune.time_conv(
                f,
                tuple(x_shape),
                tuple(kernel_shape),
                np.dtype(dtype),
                xla_options.options(variant),
            )

        return time_one

    def entry(variant: str) -> str:  # each variant's choice is its own cache entry
        return key if variant == "default" else f"{key} xla={variant}"

    if xla_options.planned():  # `xla_options.choose`: the time under every variant counts
        for variant in xla_options.supported():
            _, seconds = autotune.pick_timed(entry(variant), names, time_under(variant))
            xla_options.add(variant, seconds)
    variant = xla_options.current()
    return autotune.pick(entry(variant), names, time_under(variant)), "measured"


def check_forced(name: str, n: int, kernel_shape: tuple[int, ...], groups: int, fn: str) -> None:
    """Raise ``ValueError`` (naming ``fn``) if forced lowering ``name`` cannot take the kernel."""
    why = why_unsupported(name, n, kernel_shape, groups)
    if why is not None:
        raise ValueError(f"{fn}: {why}")


def conv_transpose(
    x: jax.Array,
    kernel: jax.Array,
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: tuple[int, ...],
    out_pads: tuple[int, ...],
    out_sizes: tuple[int, ...],
    groups: int,
    fn: str,
) -> jax.Array:
    """The transposed convolution's correlation of the stride-dilated input, on the CPU.

    A strided one runs one stride-1 correlation per output phase (:mod:`.subpixel`, each phase
    a :func:`conv` with its own lowering), unless ``"lax"`` is forced: then it is XLA's
    convolution with ``lhs_dilation``, its negative padding moved to a crop (:mod:`.xla_guards`).

    Args:
      x: ``(N, *spatial, C_a)``.
      kernel: ``(*window, C_a // groups, C_b)``: mirrored, in/out channels swapped per group.
      strides, dilations: per axis; pads: the conv's symmetric padding per axis;
      out_pads: output padding per axis; out_sizes: the output's spatial sizes.
      groups: the correlation's ``feature_group_count``; fn: the public function.

    Returns:
      ``(N, *out_sizes, C_b)``.

    Raises:
      ValueError: a forced lowering that cannot take the (whole) kernel.
    """
    n = len(strides)
    window = kernel.shape[:n]
    forced = config.default_lowering()
    if forced != "auto":  # checked against the whole kernel: every phase uses a slice of it
        check_forced(forced, n, kernel.shape, groups, fn)
    if any(s > 1 for s in strides) and forced != "lax":
        low_pads = tuple(d * (k - 1) - p for k, d, p in zip(window, dilations, pads, strict=True))
        correlate = functools.partial(_correlate_phase, fn=fn)
        return conv_transpose_phases(
            x, kernel, strides, dilations, low_pads, out_sizes, groups, correlate
        )
    # Negative (cropping) padding and one axis shape crash XLA's CPU compiler: the convolution
    # only pads, and a slice crops (see xla_guards).
    conv_pads, crops = pad_then_crop(window, strides, pads, out_pads, dilations)
    if math.prod(strides) == 1:
        y = conv(x, kernel, (1,) * n, dilations, tuple(conv_pads), groups, fn)
    else:
        y = lax.conv_general_dilated(
            x,
            kernel,
            window_strides=(1,) * n,
            padding=conv_pads,
            lhs_dilation=strides,
            rhs_dilation=dilations,
            dimension_numbers=DIMS[n],
            feature_group_count=groups,
        )
    if any(lo or hi for lo, hi in crops):
        start = (0, *(lo for lo, _ in crops), 0)
        stop = tuple(size - hi for size, (_, hi) in zip(y.shape[1:-1], crops, strict=True))
        y = lax.slice(y, start, (y.shape[0], *stop, y.shape[-1]))
    return y


def _correlate_phase(x, kernel, dilations, pads, groups, *, fn):
    """One phase's stride-1 correlation, with the lowering chosen for its own shape."""
    return conv(x, kernel, (1,) * (x.ndim - 2), dilations, pads, groups, fn)
