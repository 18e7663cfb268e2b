"""Training-step speed: jaxcnn (CPU lowerings "auto") vs plain Flax (lax.conv) vs PyTorch CPU.

The four rows of issue 7, one training step each (forward, backward, Adam) on a fixed batch:

* ``lenet``: 28x28x1, conv 5x5x32 SAME, max-pool 2, conv 5x5x64 SAME, max-pool 2, dense 128,
  dense 10; batch 256.
* ``cnn10``: the notes' 10-layer CNN, ten 3x3 VALID convs with 3 filters on 21x40 frames, then
  a dense layer to 138 classes; batch 256.
* ``mlp``: 840-128-128-128-138 on the same frames; batch 256.
* ``text``: conv1d width 5 SAME, 100 -> 100 channels over 1000 positions, global max pool, dense
  2; batch 64.

Contenders: ``jaxcnn`` (the library's functions, layers and CPU lowerings, one jitted step per
call, as the other two), ``jaxcnn_loop`` (the same step run ``--steps`` times inside one
``lax.scan`` per call, its convolutions canonicalised: how ``jaxcnn.train.fit`` runs a chunk of
steps, with XLA's temporaries allocated once per call instead of once per step), ``flax`` (plain
Flax layers, ``lax.conv``) and ``torch`` (PyTorch, if importable).

Implementations are timed interleaved (one block of steps each, round-robin, ``--repeats``
times, the order rotated and reversed round by round, with a short untimed pause between blocks:
``benchmarks._interleave``) so that load on a shared machine hits them alike; the table gives
medians with min-max. The JSON's ``meta`` names the CPU model and core count, and each row lists
the CPU lowering the library chose for each of its convolutions (``lowerings``, each with the
XLA option set it was tuned and compiled for: both ``jaxcnn`` steps are compiled with
``jaxcnn.train.compile_tuned``, as the library's own `fit` compiles its step): by measuring
on this machine (``JAXCNN_AUTOTUNE`` unset: the first run of a shape tunes it, and the choice
is cached under ``jaxcnn.paths.data_home("autotune")``) or by the fallback rule
(``JAXCNN_AUTOTUNE=0``).
Each contender's ``system_ms_per_step`` and ``page_faults_per_step`` (medians over the blocks,
from ``getrusage``) show what the kernel spends mapping and zeroing memory that is allocated
afresh each step (``jaxcnn._cpu.heaps``).
GFLOP/s counts the model's multiply-adds (2 FLOPs each): forward, plus twice forward for the
backward pass, less the unneeded input gradient of the first layer. The matmul peak is the best
of ``jnp.dot`` and ``torch.mm`` on 2048x2048 float32.

``--layers`` instead times each conv layer of the rows (forward + both gradients) under every
CPU lowering (forced with ``jaxcnn.config.lowering``); and a few strided transposed
convolutions, where ``"lax"`` is XLA's convolution with ``lhs_dilation`` and the other lowerings
run phase by phase (``jaxcnn._cpu.subpixel``).

Usage: ``python -m benchmarks.conv_speed [--rows lenet,cnn10,mlp,text] [--repeats 7]
[--steps 5] [--layers] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import resource
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks._interleave import rotated, settle
from jaxcnn import config
from jaxcnn import layers as L
from jaxcnn._cpu import autotune, engine
from jaxcnn.functional import conv1d, conv2d, conv_transpose1d, conv_transpose2d, max_pool2d
from jaxcnn.train.canonical import canonicalize_convolutions
from jaxcnn.train.results import write_json
from jaxcnn.train.tuned import compile_tuned

try:  # PyTorch is only a point of comparison, never a dependency.
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

# name: (batch, input shape without batch, classes, [conv layers as (x_shape, kernel_shape)])
ROWS = {
    "lenet": (256, (28, 28, 1), 10),
    "cnn10": (256, (21, 40), 138),
    "mlp": (256, (21, 40), 138),
    "text": (64, (1000, 100), 2),
}


# --- the models, once per framework -----------------------------------------------------


class LeNet(nn.Module):
    """LeNet-like; ``ours`` routes convs and pools through jaxcnn.functional."""

    ours: bool

    @nn.compact
    def __call__(self, x):  # (B, 28, 28, 1)
        for i, features in enumerate((32, 64)):
            x = _conv_relu(self, self.ours, x, features, (5, 5), "SAME", f"conv{i}")
            # jaxcnn's 2x2 pool tiles the input: reshape + max, not Flax's reduce_window.
            x = max_pool2d(x, 2) if self.ours else nn.max_pool(x, (2, 2), (2, 2))
        dense = L.Dense if self.ours else nn.Dense
        x = nn.relu(dense(128)(x.reshape(x.shape[0], -1)))  # (B, 3136) -> (B, 128)
        return dense(10)(x)


class CNN10(nn.Module):
    """The notes' ten 3x3 convs with 3 filters, VALID: 21x40 -> 1x20x3, then dense 138."""

    ours: bool

    @nn.compact
    def __call__(self, x):  # (B, 21, 40)
        x = x[..., None]
        for i in range(10):
            x = _conv_relu(self, self.ours, x, 3, (3, 3), "VALID", f"conv{i}")
        return (L.Dense if self.ours else nn.Dense)(138)(x.reshape(x.shape[0], -1))


class MLP(nn.Module):
    """840-128-128-128-138: ``jaxcnn.layers.Dense`` when ``ours``, else ``flax.linen.Dense``
    (the two compile to the same HLO, debug metadata aside)."""

    ours: bool

    @nn.compact
    def __call__(self, x):  # (B, 21, 40)
        dense = L.Dense if self.ours else nn.Dense
        x = x.reshape(x.shape[0], -1)
        for _ in range(3):
            x = nn.relu(dense(128)(x))
        return dense(138)(x)


class TextCNN(nn.Module):
    """conv1d width 5, 100 -> 100 channels, SAME over 1000 positions, max over time, dense 2."""

    ours: bool

    @nn.compact
    def __call__(self, x):  # (B, 1000, 100)
        x = _conv_relu(self, self.ours, x, 100, (5,), "SAME", "conv0")
        return (L.Dense if self.ours else nn.Dense)(2)(jnp.max(x, axis=1))


def _conv_relu(module, ours, x, features, window, padding, name):
    """relu(conv(x)): jaxcnn.functional's convolution when ``ours``, else ``nn.Conv``."""
    if not ours:
        return nn.relu(nn.Conv(features, window, padding=padding, name=name)(x))
    kernel = module.param(
        f"{name}_kernel", nn.initializers.lecun_normal(), (*window, x.shape[-1], features)
    )
    bias = module.param(f"{name}_bias", nn.initializers.zeros, (features,))
    f = conv2d if len(window) == 2 else conv1d
    return nn.relu(f(x, kernel, bias, padding=padding))


JAX_MODELS = {"lenet": LeNet, "cnn10": CNN10, "mlp": MLP, "text": TextCNN}


def _torch_model(row):
    tnn = torch.nn
    if row == "lenet":
        return tnn.Sequential(
            tnn.Conv2d(1, 32, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(32, 64, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Flatten(), tnn.Linear(3136, 128), tnn.ReLU(), tnn.Linear(128, 10),
        )  # fmt: skip
    if row == "cnn10":
        layers = [tnn.Unflatten(1, (1, 21))]
        for i in range(10):
            layers += [tnn.Conv2d(1 if i == 0 else 3, 3, 3), tnn.ReLU()]
        return tnn.Sequential(*layers, tnn.Flatten(), tnn.Linear(60, 138))
    if row == "mlp":
        return tnn.Sequential(
            tnn.Flatten(), tnn.Linear(840, 128), tnn.ReLU(), tnn.Linear(128, 128), tnn.ReLU(),
            tnn.Linear(128, 128), tnn.ReLU(), tnn.Linear(128, 138),
        )  # fmt: skip

    class Text(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.dense = tnn.Conv1d(100, 100, 5, padding=2), tnn.Linear(100, 2)

        def forward(self, x):  # (B, 100, 1000): PyTorch's native NCW
            return self.dense(torch.relu(self.conv(x)).amax(dim=2))

    return Text()


# --- training steps -----------------------------------------------------------------------


def train_step(model: nn.Module, tx: optax.GradientTransformation):
    """The rows' training step ``(params, opt_state, x, y) -> (params, opt_state, loss)``.

    Cross-entropy on integer labels, one optax update. Callers donate the parameters and the
    optimiser state, as ``jaxcnn.train``'s step does (PyTorch updates its tensors in place).
    """

    def loss_fn(p, x, y):
        logits = model.apply({"params": p}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def one_step(p, s, x, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s, loss

    return one_step


def jax_step(row, ours, seed=0, scan=0):
    """A zero-argument callable running one jitted training step, blocking; it returns the loss.

    The library's steps (``ours``) are compiled with `compile_tuned`; the callable's
    ``lowerings`` attribute lists what each of their convolutions runs (`record_choices`).

    With ``scan=S`` one call runs ``S`` steps on the same batch in one ``lax.scan``, the step's
    convolutions canonicalised, as ``jaxcnn.train.fit`` runs a chunk of steps.
    """
    batch, shape, classes = ROWS[row]
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal((batch, *shape)), jnp.float32)
    y = jnp.asarray(rng.integers(0, classes, batch), jnp.int32)
    model = JAX_MODELS[row](ours=ours)
    params = model.init(jax.random.key(seed), x[:1])["params"]
    tx = optax.adam(1e-3)
    one_step = train_step(model, tx)

    def scanned(p, s, x, y):
        def body(carry, _):
            p, s, loss = one_step(*carry, x, y)
            return (p, s), loss

        (p, s), losses = jax.lax.scan(canonicalize_convolutions(body), (p, s), None, length=scan)
        return p, s, losses[-1]

    state = [params, tx.init(params)]
    fn = scanned if scan else one_step
    lowerings: list[dict] = []
    if ours:  # as the library's docs say: XLA's CPU options chosen for the step's convolutions
        with engine.record_choices() as lowerings:
            step = compile_tuned(fn, *state, x, y, donate_argnums=(0, 1))
    else:
        step = jax.jit(fn, donate_argnums=(0, 1))

    def run():
        state[0], state[1], loss = step(state[0], state[1], x, y)
        return loss.block_until_ready()

    run.lowerings = lowerings  # type: ignore[attr-defined]  # what each convolution runs
    return run


def torch_step(row, seed=0):
    """One PyTorch training step on the same shapes (channels-first, as PyTorch is fastest)."""
    batch, shape, classes = ROWS[row]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *shape)).astype(np.float32)
    if row == "lenet":
        x = x.transpose(0, 3, 1, 2)
    if row == "text":
        x = x.transpose(0, 2, 1)
    x = torch.from_numpy(np.ascontiguousarray(x))
    y = torch.from_numpy(rng.integers(0, classes, batch))
    model = _torch_model(row)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    return run


def train_flops(row) -> float:
    """FLOPs of one training step per example: 2 per multiply-add, forward + 2x backward."""
    layers = {  # multiply-adds per example, forward
        "lenet": [28 * 28 * 25 * 32, 14 * 14 * 25 * 32 * 64, 3136 * 128, 128 * 10],
        "cnn10": [19 * 38 * 9 * 3]
        + [(19 - 2 * i) * (38 - 2 * i) * 27 * 3 for i in range(1, 10)]
        + [60 * 138],
        "mlp": [840 * 128, 128 * 128, 128 * 128, 128 * 138],
        "text": [1000 * 5 * 100 * 100, 100 * 2],
    }[row]
    # Backward: weight gradient for every layer, input gradient for all but the first.
    return 2.0 * (3 * sum(layers) - layers[0])


def matmul_peak(n=2048, repeats=5) -> dict:
    """Best float32 matmul GFLOP/s of jnp.dot and torch.mm on this machine now."""
    a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n)), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    out = {"jax": _best(lambda: f(a).block_until_ready(), repeats, 2 * n**3)}
    if torch is not None:
        t = torch.from_numpy(np.array(a))  # a writable copy
        out["torch"] = _best(lambda: torch.mm(t, t), repeats, 2 * n**3)
    return out


def _best(fn, repeats, flops):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return flops / min(times) / 1e9


def bench_rows(rows, repeats, steps) -> list[dict]:
    """Interleaved timing of every implementation of every row: samples/s median and spread."""
    results = []
    for row in rows:
        impls = {
            "jaxcnn": jax_step(row, True),
            "jaxcnn_loop": jax_step(row, True, scan=steps),  # one call runs all the steps
            "flax": jax_step(row, False),
        }
        lowerings = impls["jaxcnn"].lowerings
        if torch is not None:
            impls["torch"] = torch_step(row)
        for run in impls.values():  # compile (plain jit) and warm up
            run()
            run()
        per = {name: [] for name in impls}
        kernel = {name: [] for name in impls}  # (system ms, page faults) per step
        names = list(impls)
        for r in range(repeats):
            for name in rotated(names, r):
                run = impls[name]
                before = resource.getrusage(resource.RUSAGE_SELF)
                t = time.perf_counter()
                for _ in range(1 if name == "jaxcnn_loop" else steps):
                    run()
                per[name].append(ROWS[row][0] * steps / (time.perf_counter() - t))
                after = resource.getrusage(resource.RUSAGE_SELF)
                kernel[name].append(
                    (
                        (after.ru_stime - before.ru_stime) * 1e3 / steps,
                        (after.ru_minflt - before.ru_minflt) / steps,
                    )
                )
                settle()
        entry = {
            "row": row,
            "batch": ROWS[row][0],
            "train_flops_per_example": train_flops(row),
            "lowerings": lowerings,
        }
        for name, rates in per.items():
            entry[name] = {
                "median": statistics.median(rates),
                "min": min(rates),
                "max": max(rates),
                "gflops": statistics.median(rates) * train_flops(row) / 1e9,
                # The kernel's share: memory mapped and faulted in afresh shows up here.
                "system_ms_per_step": statistics.median(k[0] for k in kernel[name]),
                "page_faults_per_step": statistics.median(k[1] for k in kernel[name]),
            }
        results.append(entry)
        print(_row_line(entry), flush=True)
        for c in lowerings:
            print(
                f"  {c['fn']} x={c['x']} k={c['kernel']}: {c['lowering']} ({c['how']}), "
                f"XLA options {c['xla']}"
            )
    return results


def _row_line(e) -> str:
    parts = [f"{e['row']:6s}"]
    for name in ("jaxcnn", "jaxcnn_loop", "flax", "torch"):
        if name in e:
            r = e[name]
            parts.append(
                f"{name} {r['median']:9.0f}/s [{r['min']:.0f}-{r['max']:.0f}] "
                f"{r['gflops']:6.1f} GF/s"
            )
    if "torch" in e:
        parts.append(f"jaxcnn/torch {e['jaxcnn']['median'] / e['torch']['median']:.2f}x")
        parts.append(f"loop/torch {e['jaxcnn_loop']['median'] / e['torch']['median']:.2f}x")
    return " | ".join(parts)


# --- per-layer lowerings (the rule's evidence) ----------------------------------------------

LAYERS = {  # name: (x shape, kernel shape, padding)
    "lenet.conv1": ((256, 28, 28, 1), (5, 5, 1, 32), "SAME"),
    "lenet.conv2": ((256, 14, 14, 32), (5, 5, 32, 64), "SAME"),
    "cnn10.conv1": ((256, 21, 40, 1), (3, 3, 1, 3), "VALID"),
    "cnn10.conv2": ((256, 19, 38, 3), (3, 3, 3, 3), "VALID"),
    "text.conv": ((64, 1000, 100), (5, 100, 100), "SAME"),
    # The shapes the pipelines train (experiments/images.py, batch 128; text Kim CNN, batch 64).
    "images.cnn.conv1": ((128, 28, 28, 1), (3, 3, 1, 32), "SAME"),
    "images.cnn.conv2": ((128, 14, 14, 32), (3, 3, 32, 64), "SAME"),
    "resnet.16": ((128, 28, 28, 16), (3, 3, 16, 16), "SAME"),
    "resnet.32": ((128, 14, 14, 32), (3, 3, 32, 32), "SAME"),
    "resnet.64": ((128, 7, 7, 64), (3, 3, 64, 64), "SAME"),
    "kim.conv5": ((64, 32, 100), (5, 100, 100), "VALID"),
}


# Strided transposed convolutions (decoder / upsampling shapes): "lax" is one XLA convolution
# with lhs_dilation; every other lowering runs one stride-1 correlation per output phase.
TRANSPOSED_LAYERS = {  # name: (x shape, kernel shape (*window, C_out, C_in), keyword arguments)
    "transpose.14to28.4x4s2": ((128, 14, 14, 64), (4, 4, 32, 64), dict(stride=2, padding=1)),
    "transpose.14to28.3x3s2": (
        (128, 14, 14, 64), (3, 3, 32, 64), dict(stride=2, padding=1, output_padding=1),
    ),
    "transpose.7to14.4x4s2": ((128, 7, 7, 128), (4, 4, 64, 128), dict(stride=2, padding=1)),
    "transpose.14to28.3to1": ((128, 14, 14, 3), (4, 4, 1, 3), dict(stride=2, padding=1)),
    "transpose1d.250to500": ((64, 250, 100), (4, 100, 100), dict(stride=2, padding=1)),
}  # fmt: skip


def bench_layers(repeats) -> list[dict]:
    """Forward + gradients (x and kernel) of each layer under each lowering, interleaved."""
    cases = []
    for name, (xs, ks, padding) in LAYERS.items():
        lows = ["lax", "patches"] + (["rows"] if len(xs) == 4 else [])
        lows += ["lanes"] if ks[-1] * ks[-2] <= 16 else []
        f = conv2d if len(xs) == 4 else conv1d
        cases.append((name, xs, ks, functools.partial(f, padding=padding), lows))
    for name, (xs, ks, kwargs) in TRANSPOSED_LAYERS.items():
        lows = ["lax", "auto", "patches"] + (["rows"] if len(xs) == 4 else [])
        lows += ["lanes"] if ks[-1] * ks[-2] <= 16 else []
        lows += ["torch"] if torch is not None else []
        f = conv_transpose2d if len(xs) == 4 else conv_transpose1d
        cases.append((name, xs, ks, functools.partial(f, **kwargs), lows))
    out = []
    for name, xs, ks, layer, lows in cases:
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.standard_normal(xs), jnp.float32)
        k = jnp.asarray(rng.standard_normal(ks), jnp.float32)
        fns = {
            low: jax.jit(jax.grad(_layer_loss(layer, low), argnums=(0, 1)))
            for low in lows
            if low != "torch"
        }
        if "torch" in lows:
            fns["torch"] = _torch_transposed_grad(x, k, layer.keywords)
        for g in fns.values():
            jax.block_until_ready(g(x, k))
        times = {low: [] for low in lows}
        for r in range(repeats):
            for low in rotated(lows, r):
                t = time.perf_counter()
                jax.block_until_ready(fns[low](x, k))
                times[low].append(time.perf_counter() - t)
                settle()
        entry = {"layer": name, "ms": {low: 1e3 * statistics.median(v) for low, v in times.items()}}
        out.append(entry)
        print(name, "  ".join(f"{low} {ms:.1f} ms" for low, ms in entry["ms"].items()), flush=True)
    return out


def _torch_transposed_grad(x, k, kwargs):
    """PyTorch's transposed convolution, forward + gradients in x and weight, channels-first.

    Returns a callable ignoring its arguments (the data is converted once, here) so that it
    times like the JAX contenders; ``jax.block_until_ready`` passes its tensors through.
    """
    n = x.ndim - 2
    xt = torch.from_numpy(np.moveaxis(np.array(x), -1, 1).copy()).requires_grad_()
    # jaxcnn's (*window, C_out, C_in) -> PyTorch's (C_in, C_out, *window), unflipped.
    wt = torch.from_numpy(np.moveaxis(np.array(k), (-1, -2), (0, 1)).copy()).requires_grad_()
    f = torch.nn.functional.conv_transpose2d if n == 2 else torch.nn.functional.conv_transpose1d

    def grad(*_):
        xt.grad = wt.grad = None
        (f(xt, wt, **kwargs) ** 2).sum().backward()
        return xt.grad, wt.grad

    return grad


def _layer_loss(layer, lowering):
    def loss(x, k):
        with config.lowering(lowering):  # read while tracing
            return jnp.sum(layer(x, k) ** 2)

    return loss


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="lenet,cnn10,mlp,text")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--layers", action="store_true")
    parser.add_argument("--json", default=None, help="write the results here (atomically)")
    args = parser.parse_args(argv)
    meta = {
        "jax": jax.__version__,
        "torch": None if torch is None else torch.__version__,
        "backend": jax.default_backend(),
        "cpus": os.cpu_count(),
        "cpu_model": autotune.cpu_model(),
        "cores": autotune.core_count(),
        "autotune": config.autotune_enabled(),
        "machine": platform.processor() or platform.machine(),
        "loadavg_before": os.getloadavg(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    peak = matmul_peak()
    print("matmul peak GFLOP/s:", {k: round(v, 1) for k, v in peak.items()}, flush=True)
    if args.layers:
        result = {"meta": meta, "peak": peak, "layers": bench_layers(args.repeats)}
    else:
        rows = bench_rows(args.rows.split(","), args.repeats, args.steps)
        best = max(peak.values())
        for e in rows:
            e["jaxcnn_fraction_of_peak"] = e["jaxcnn"]["gflops"] / best
        result = {"meta": meta, "peak": peak, "rows": rows}
    result["meta"]["loadavg_after"] = os.getloadavg()
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
