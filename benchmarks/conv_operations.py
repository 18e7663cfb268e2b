"""The three operations of a convolution's training step, each timed alone, per CPU lowering.

A training step runs every convolution three times: the forward pass, the input gradient (the
transpose in ``x``) and the kernel gradient (the transpose in the kernel). This benchmark shows
where each lowering spends its time, for the layers of ``benchmarks.conv_speed``, beside
PyTorch's own three operations
(``torch.nn.functional.conv2d`` and ``torch.nn.grad.conv2d_input`` / ``conv2d_weight``,
channels-first) and each one's GFLOP/s (2 per multiply-add; every operation has the forward's).

Timed interleaved (``benchmarks._interleave``), median of ``--repeats``. ``--xla`` names the
XLA CPU option sets (`jaxcnn._cpu.xla_options.VARIANTS`) to compile the library's operations
with; with more than one, each lowering is timed under each (``rows@no_ynn_conv``).

Usage: ``python -m benchmarks.conv_operations [--layers lenet.conv1,lenet.conv2,text.conv]
[--repeats 7] [--xla default,no_ynn_conv] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._interleave import rotated, settle
from benchmarks.conv_speed import LAYERS, matmul_peak, torch  # torch: None when not installed
from jaxcnn import config
from jaxcnn._cpu import autotune, xla_options
from jaxcnn._cpu.rule import candidates
from jaxcnn.functional import conv1d, conv2d
from jaxcnn.train.results import write_json

OPERATIONS = ("forward", "input_grad", "kernel_grad")


def jax_programs(xs, ks, padding, lowering, compiler_options=None) -> dict:
    """``operation -> f(x, k, ct)`` (jitted with ``compiler_options``) for one layer under one
    forced lowering."""
    conv = conv2d if len(xs) == 4 else conv1d

    def layer(x, k):
        with config.lowering(lowering):  # read while tracing
            return conv(x, k, padding=padding)

    x_spec, k_spec = jax.ShapeDtypeStruct(xs, jnp.float32), jax.ShapeDtypeStruct(ks, jnp.float32)
    jit = functools.partial(jax.jit, compiler_options=compiler_options or None)
    return {
        "forward": jit(lambda x, k, ct: layer(x, k)),
        "input_grad": jit(lambda x, k, ct: jax.linear_transpose(lambda x: layer(x, k), x_spec)(ct)),
        "kernel_grad": jit(
            lambda x, k, ct: jax.linear_transpose(lambda k: layer(x, k), k_spec)(ct)
        ),
    }


def torch_programs(xs, ks, padding) -> dict:
    """The same three operations in PyTorch (channels-first; SAME as ``k // 2`` padding)."""
    n = len(xs) - 2
    pad = tuple(k // 2 for k in ks[:n]) if padding == "SAME" else 0
    f = torch.nn.functional.conv2d if n == 2 else torch.nn.functional.conv1d
    grad_input = torch.nn.grad.conv2d_input if n == 2 else torch.nn.grad.conv1d_input
    grad_weight = torch.nn.grad.conv2d_weight if n == 2 else torch.nn.grad.conv1d_weight
    rng = np.random.default_rng(0)
    x = torch.from_numpy(np.moveaxis(rng.standard_normal(xs).astype(np.float32), -1, 1).copy())
    w = torch.from_numpy(np.moveaxis(rng.standard_normal(ks).astype(np.float32), (-1, -2), (0, 1)))
    w = w.contiguous()
    y = f(x, w, padding=pad)
    ct = torch.ones_like(y)
    return {
        "forward": lambda *_: f(x, w, padding=pad),
        "input_grad": lambda *_: grad_input(x.shape, w, ct, padding=pad),
        "kernel_grad": lambda *_: grad_weight(x, w.shape, ct, padding=pad),
    }


def bench(names, repeats, variants=("default",)) -> list[dict]:
    """Per layer: ``{"layer", "gflop", "ms": {operation: {lowering: median ms}}}``; with several
    XLA option ``variants``, each lowering under each, keyed ``lowering@variant``."""
    out = []
    for name in names:
        xs, ks, padding = LAYERS[name]
        n = len(xs) - 2
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.standard_normal(xs), jnp.float32)
        k = jnp.asarray(rng.standard_normal(ks), jnp.float32)
        conv = functools.partial(conv2d if n == 2 else conv1d, padding=padding)
        y_shape = jax.eval_shape(conv, x, k)
        ct = jnp.ones(y_shape.shape, jnp.float32)
        contenders = {
            low if len(variants) == 1 else f"{low}@{v}": jax_programs(
                xs, ks, padding, low, xla_options.options(v)
            )
            for v in variants
            for low in candidates(n, ks, 1)
        }
        if torch is not None:
            contenders["torch"] = torch_programs(xs, ks, padding)
        entry = {
            "layer": name,
            "gflop": 2 * math.prod(y_shape.shape) * math.prod(ks[:-1]) / 1e9,
            "ms": {},
        }
        for op in OPERATIONS:
            fns = {low: functools.partial(c[op], x, k, ct) for low, c in contenders.items()}
            for f in fns.values():
                jax.block_until_ready(f())  # compile, warm up
            times = {low: [] for low in fns}
            for r in range(repeats):
                for low in rotated(list(fns), r):
                    t = time.perf_counter()
                    jax.block_until_ready(fns[low]())
                    times[low].append(time.perf_counter() - t)
                    settle()
            entry["ms"][op] = {low: 1e3 * statistics.median(v) for low, v in times.items()}
            print(
                f"{name:12s} {op:11s} "
                + "  ".join(
                    f"{low} {ms:6.1f} ms ({entry['gflop'] / ms * 1e3:5.0f} GF/s)"
                    for low, ms in entry["ms"][op].items()
                ),
                flush=True,
            )
        out.append(entry)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", default="lenet.conv1,lenet.conv2,text.conv")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--xla", default="default", help=f"XLA CPU option sets, of {list(xla_options.VARIANTS)}"
    )
    parser.add_argument("--json", default=None, help="write the results here (atomically)")
    args = parser.parse_args(argv)
    variants = tuple(xla_options.check_variant(v, "--xla") for v in args.xla.split(","))
    peak = matmul_peak()
    print("matmul peak GFLOP/s:", {k: round(v, 1) for k, v in peak.items()}, flush=True)
    result = {
        "meta": {
            "cpu_model": autotune.cpu_model(),
            "cores": autotune.core_count(),
            "jax": jax.__version__,
            "torch": None if torch is None else torch.__version__,
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "xla": list(variants),
        },
        "peak": peak,
        "layers": bench(args.layers.split(","), args.repeats, variants),
    }
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
