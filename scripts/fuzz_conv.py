"""Search for XLA crashes and wrong values in small convolutions (see docs/DESIGN.md).

Draws random small ``conv1d/2d`` (every lowering, explicit low/high padding) and
``conv_transpose1d/2d`` configurations in float32 or float64 and runs each eagerly, jitted, through
its VJP (eager and jitted) and its JVP, comparing values with the naive references in
``tests/reference.py``. The configuration is printed *before* it runs, so when XLA aborts the
process the last line names the culprit. Usage::

    .venv/bin/python scripts/fuzz_conv.py --seed 0 --count 300
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jaxcnn import arith  # noqa: E402
from jaxcnn._cpu.rule import LOWERINGS as FORCED  # noqa: E402
from tests import reference  # noqa: E402
from tests.forced import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: E402

# Every lowering a convolution or transposed convolution accepts, "auto" included: the
# library's own list, so a new lowering is fuzzed without touching this script.
LOWERINGS = [*FORCED, "auto"]

CONV = {1: conv1d, 2: conv2d}
CONVT = {1: conv_transpose1d, 2: conv_transpose2d}


def _exercise(f, *args):
    """Eager, jit, VJP (eager and jit) and JVP of ``f``; returns the eager output."""
    out = f(*args)
    np.testing.assert_allclose(np.asarray(jax.jit(f)(*args)), np.asarray(out), rtol=1e-4, atol=1e-4)
    _, vjp = jax.vjp(f, *args)
    cotangent = np.ones(out.shape, out.dtype)
    vjp(cotangent)
    jax.jit(vjp)(cotangent)
    jax.jvp(f, args, tuple(np.ones_like(a) for a in args))
    return out


def _valid(size_fn, *args) -> bool:
    """Whether the library's size arithmetic accepts this axis (it raises ValueError if not)."""
    try:
        size_fn(*args)
    except ValueError:
        return False
    return True


def _ints(rng, lo, hi, n):
    return tuple(int(v) for v in rng.integers(lo, hi, n))


def _one(rng):
    """Run one random configuration; returns (config, ok) or None when it was not valid."""
    n = int(rng.choice([1, 2, 2]))
    groups = int(rng.choice([1, 1, 2, 3]))
    window, stride = _ints(rng, 1, 4, n), _ints(rng, 1, 4, n)
    dilation, sizes = _ints(rng, 1, 3, n), _ints(rng, 1, 6, n)
    batch, c_out, cbg = (
        int(rng.integers(1, 3)),
        groups * int(rng.integers(1, 3)),
        int(rng.integers(1, 3)),
    )
    dtype = np.float64 if rng.random() < 0.3 else np.float32
    kernel = rng.standard_normal((*window, cbg, c_out)).astype(dtype)
    if rng.random() < 0.5:
        pad = _ints(rng, 0, 3, n)
        out_pad = tuple(
            int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation, strict=True)
        )
        axes = zip(sizes, window, stride, pad, out_pad, dilation, strict=True)
        if not all(_valid(arith.conv_transpose_output_size, *axis) for axis in axes):
            return None  # an output size below 1
        lowering = str(rng.choice(LOWERINGS))
        kw = dict(
            stride=stride,
            padding=pad,
            output_padding=out_pad,
            dilation=dilation,
            groups=groups,
            lowering=lowering,
        )
        cfg = dict(
            op="conv_transpose",
            dtype=dtype.__name__,
            y=(batch, *sizes, c_out),
            kernel=kernel.shape,
            **kw,
        )
        op, shape = CONVT[n], cfg["y"]

        def want(y):
            return reference.conv_transpose(y, kernel, stride, pad, out_pad, dilation, groups)
    else:
        pads = tuple(zip(_ints(rng, 0, 3, n), _ints(rng, 0, 3, n), strict=True))
        axes = zip(sizes, window, stride, pads, dilation, strict=True)
        if not all(_valid(arith.conv_output_size, *axis) for axis in axes):
            return None  # a dilated kernel longer than the padded input
        lowering = str(rng.choice(LOWERINGS))
        kw = dict(stride=stride, padding=pads, dilation=dilation, groups=groups, lowering=lowering)
        cfg = dict(
            op="conv",
            dtype=dtype.__name__,
            x=(batch, *sizes, cbg * groups),
            kernel=kernel.shape,
            **kw,
        )
        op, shape = CONV[n], cfg["x"]

        def want(x):
            return reference.conv(x, kernel, stride, pads, dilation, groups)

    print(cfg, flush=True)
    inputs = rng.standard_normal(shape).astype(dtype)
    try:
        got = _exercise(lambda a, b: op(a, b, **kw), inputs, kernel)
    except ValueError as err:  # a forced lowering that does not support these arguments
        if "lowering" in str(err):
            return None
        raise
    return cfg, np.allclose(np.asarray(got), want(inputs), rtol=1e-4, atol=1e-4)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=300, help="configurations to draw")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)  # float64 configurations stay float64
    rng = np.random.default_rng(args.seed)
    ran = wrong = 0
    for _ in range(args.count):
        result = _one(rng)
        if result is None:
            continue
        ran += 1
        if not result[1]:
            wrong += 1
            print("WRONG VALUES", result[0], flush=True)
    print(f"ran {ran} configurations, {wrong} with wrong values, no crash")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
