"""Time ``jaxcnn.functional.conv2d`` forward + backward against raw ``jax.lax``.

The wrapper's checks run at trace time only, so after ``jit`` both sides should compile to the
same program; this measures that claim on the LeNet and MFCC-CNN shapes of the notes.
Measurements are interleaved (wrapper, lax, wrapper, lax, ...) so drift in machine load hits
both alike; the table reports medians and their ratio. It also says whether the two optimised
HLO modules are identical, which makes the timing a sanity check rather than the only evidence.
The wrapper is timed with the CPU lowering forced to ``"lax"`` (``jaxcnn.config.lowering``: its
own cost); the library default (``"auto"``, which may pick another lowering per shape on the CPU)
gets its own columns.

    python -m benchmarks.ops [--batch 256] [--repeats 15] [--iters 5] [--out ops.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcnn import config
from jaxcnn.functional import conv2d

# (name, input (H, W, C_in), kernel (KH, KW, C_in, C_out))
SHAPES = [
    ("lenet conv1 28x28x1 -> 32, 5x5", (28, 28, 1), (5, 5, 1, 32)),
    ("lenet conv2 12x12x32 -> 64, 5x5", (12, 12, 32), (5, 5, 32, 64)),
    ("mfcc cnn 21x40x3 -> 3, 3x3", (21, 40, 3), (3, 3, 3, 3)),
]


def _lax_loss(x, k):
    y = lax.conv_general_dilated(x, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jnp.sum(y)


def _jaxcnn_loss(x, k):
    # The "lax" lowering isolates the wrapper's own cost; "auto" is timed separately below.
    with config.lowering("lax"):
        return jnp.sum(conv2d(x, k))


def _auto_loss(x, k):
    return jnp.sum(conv2d(x, k))


def _time(fn, args, iters: int) -> float:
    """Seconds per call, averaged over ``iters`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(iters):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / iters


def _hlo(fn, args) -> str:
    text = fn.lower(*args).compile().as_text()
    # Module name, source-location tables and per-op metadata differ; the computation must not.
    text = text[text.index("\n%") :] if "\n%" in text else text[text.index("ENTRY") :]
    return re.sub(r", metadata=\{[^}]*\}", "", text)


def bench(batch: int, repeats: int, iters: int) -> list[dict]:
    """Median seconds per fwd+bwd step for each shape, wrapper and lax, and their ratio."""
    rows = []
    rng = np.random.default_rng(0)
    for name, xshape, kshape in SHAPES:
        x = jnp.asarray(rng.standard_normal((batch, *xshape)), jnp.float32)
        k = jnp.asarray(rng.standard_normal(kshape) * 0.1, jnp.float32)
        ours = jax.jit(jax.grad(_jaxcnn_loss, argnums=(0, 1)))
        ref = jax.jit(jax.grad(_lax_loss, argnums=(0, 1)))
        auto = jax.jit(jax.grad(_auto_loss, argnums=(0, 1)))
        for f in (ours, ref, auto):  # compile and warm up
            jax.block_until_ready(f(x, k))
        same_hlo = _hlo(ours, (x, k)) == _hlo(ref, (x, k))
        t_ours, t_ref, t_auto = [], [], []
        for r in range(repeats):
            trio = [(ours, t_ours), (ref, t_ref), (auto, t_auto)]
            for f, acc in trio if r % 2 == 0 else trio[::-1]:
                acc.append(_time(f, (x, k), iters))
        m_ours, m_ref = statistics.median(t_ours), statistics.median(t_ref)
        rows.append(
            {
                "shape": name,
                "batch": batch,
                "jaxcnn_ms": 1e3 * m_ours,
                "lax_ms": 1e3 * m_ref,
                "ratio": m_ours / m_ref,
                # Minima are least disturbed by other load on a shared machine.
                "ratio_of_minima": min(t_ours) / min(t_ref),
                "identical_hlo": same_hlo,
                # The library's default lowering ("auto") against raw lax: a speed-up is < 1.
                "auto_ms": 1e3 * statistics.median(t_auto),
                "auto_ratio": statistics.median(t_auto) / m_ref,
            }
        )
    return rows


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=15, help="interleaved measurements per side")
    p.add_argument("--iters", type=int, default=5, help="calls per measurement")
    p.add_argument("--out", help="write the rows as JSON here")
    args = p.parse_args(argv)
    rows = bench(args.batch, args.repeats, args.iters)
    device = jax.devices()[0]
    print(f"conv2d forward+backward (jit(grad(sum))), {device.platform}: {device.device_kind}")
    print(
        f"{'shape':34s} {'jaxcnn ms':>10s} {'lax ms':>10s} {'ratio':>7s} {'min r':>7s} "
        f"{'same HLO':>8s} {'auto ms':>9s} {'auto/lax':>8s}"
    )
    for r in rows:
        print(
            f"{r['shape']:34s} {r['jaxcnn_ms']:10.3f} {r['lax_ms']:10.3f} {r['ratio']:7.3f} "
            f"{r['ratio_of_minima']:7.3f} {r['identical_hlo']!s:>8s} {r['auto_ms']:9.3f} "
            f"{r['auto_ratio']:8.3f}"
        )
    if args.out:
        meta = {
            "device": f"{device.platform}: {device.device_kind}",
            "jax": jax.__version__,
            "repeats": args.repeats,
            "iters": args.iters,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        folder = os.path.dirname(os.path.abspath(args.out))
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)
        os.replace(f.name, args.out)
    return rows


if __name__ == "__main__":
    main()
