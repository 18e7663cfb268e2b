"""Training throughput: this loop vs a per-step Flax loop fed from the host vs PyTorch CPU.

Models: the notes' MFCC frame MLP (840-128-128-128-138, ReLU) at batch 256 and 2048, and a
LeNet-like CNN on 28x28x1 (conv5x5x32, pool2, conv5x5x64, pool2, dense128, dense10) at batch
256. Inputs are random normal arrays with random labels: only the speed is measured here
(the learning itself is tested on real data in tests/train).

Each repeat runs one epoch of every contender in turn (interleaved, so a slow moment of the
machine hits all of them, in an order rotated each repeat); the table shows medians over
repeats of examples/second with compile time excluded, and compile time separately (the
first call of a per-step loop).

    .venv/bin/python -m benchmarks.train_loop --repeats 5 --out benchmarks/train_loop.json

``--tiny`` measures instead a whole tiny job end to end (wall clock, compilation included,
which dominates it): scikit-learn's digits, a small CNN, 5 epochs at batch 32 with an
evaluation after each, through `fit` (without and with a workdir) against a plain Flax loop
(a jitted optax step and a jitted evaluation step fed from the host). The issue's target: fit
at most 1.5x the plain loop.

    .venv/bin/python -m benchmarks.train_loop --tiny --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks._interleave import rotated
from jaxcnn.train import Dataset, TrainConfig, fit, programs
from jaxcnn.train.results import code_version, markdown_table, write_json


class FrameMLP(nn.Module):
    """(N, 840) -> (N, 138): the notes' MFCC frame classifier."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        for _ in range(3):
            x = nn.relu(nn.Dense(128)(x))
        return nn.Dense(138)(x)


class LeNet(nn.Module):
    """(N, 28, 28, 1) -> (N, 10)."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.max_pool(nn.relu(nn.Conv(32, (5, 5), padding="SAME")(x)), (2, 2), (2, 2))
        x = nn.max_pool(nn.relu(nn.Conv(64, (5, 5), padding="SAME")(x)), (2, 2), (2, 2))
        x = nn.relu(nn.Dense(128)(x.reshape(x.shape[0], -1)))
        return nn.Dense(10)(x)


CASES = {
    # name: (model factory, example shape, classes, batch, steps per epoch)
    "mlp_b256": (FrameMLP, (840,), 138, 256, 100),
    "mlp_b2048": (FrameMLP, (840,), 138, 2048, 25),
    "lenet_b256": (LeNet, (28, 28, 1), 10, 256, 20),
}


def make_data(shape, classes, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)).astype(np.float32)
    y = rng.integers(0, classes, size=n).astype(np.int32)
    return x, y


def run_this_loop(model, x, y, batch):
    """One epoch through `jaxcnn.train.fit` (data on device, the epoch in one lax.scan)."""
    cfg = TrainConfig(epochs=1, batch_size=batch, learning_rate=1e-3, progress=False)
    programs.clear()  # each repeat compiles, as a fresh process would (compile time is reported)
    r = fit(model, Dataset.from_arrays(x, y), None, cfg)
    return r.throughput, r.compile_seconds


def run_flax_per_step(model, x, y, batch, seed=0):
    """The Flax MNIST example's pattern (flax/examples/mnist/train.py): host-side shuffling,
    NumPy batches, a jitted ``apply_model`` (grads, loss, accuracy) and a jitted
    ``update_model`` (``state.apply_gradients``) per step, metrics averaged at the epoch end.
    """
    from flax.training import train_state

    params = model.init(jax.random.key(seed), jnp.asarray(x[:1]))["params"]
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(1e-3))

    @jax.jit
    def apply_model(state, images, labels):
        def loss_fn(p):
            logits = state.apply_fn({"params": p}, images)
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
            return loss, logits

        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        return grads, loss, jnp.mean(jnp.argmax(logits, -1) == labels)

    @jax.jit
    def update_model(state, grads):
        return state.apply_gradients(grads=grads)

    perm = np.random.default_rng(seed).permutation(len(x))
    steps = len(x) // batch
    t0 = time.perf_counter()
    grads, loss, acc = apply_model(state, x[perm[:batch]], y[perm[:batch]])
    state = update_model(state, grads)
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - t0
    losses, accs = [], []
    t0 = time.perf_counter()
    for s in range(1, steps):
        idx = perm[s * batch : (s + 1) * batch]
        grads, loss, acc = apply_model(state, x[idx], y[idx])
        state = update_model(state, grads)
        losses.append(loss)
        accs.append(acc)
    np.mean(losses), np.mean(accs)  # the example's epoch metrics (synchronises)
    jax.block_until_ready(state)
    return (steps - 1) * batch / (time.perf_counter() - t0), compile_s


def run_torch(name, x, y, batch, seed=0, threads=1):
    """The same model and batch in PyTorch (CPU, eager), if torch is importable.

    One intra-op thread by default: on a small shared machine more threads made torch ~15x
    slower (OpenMP threads spinning against other processes); see docs/training.md.
    """
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    if name.startswith("mlp"):
        layers, d = [], x.shape[1]
        for _ in range(3):
            layers += [torch.nn.Linear(d, 128), torch.nn.ReLU()]
            d = 128
        model = torch.nn.Sequential(*layers, torch.nn.Linear(128, 138))
    else:
        model = torch.nn.Sequential(
            torch.nn.Conv2d(1, 32, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(32, 64, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 128), torch.nn.ReLU(),
            torch.nn.Linear(128, 10),
        )  # fmt: skip
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # NCHW for torch
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(len(x)))
    steps = len(x) // batch
    t0 = None
    for s in range(steps):
        if s == 1:
            t0 = time.perf_counter()  # the first step warms the allocator, like a compile
        idx = perm[s * batch : (s + 1) * batch]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    return (steps - 1) * batch / (time.perf_counter() - t0), 0.0


def run_one(kind, name, x, y, torch_threads):
    """One epoch of ``CASES[name]`` by one contender: (examples/s, compile seconds)."""
    factory, batch = CASES[name][0], CASES[name][3]
    if kind == "this":
        return run_this_loop(factory(), x, y, batch)
    if kind == "flax_step":
        return run_flax_per_step(factory(), x, y, batch)
    return run_torch(name, x, y, batch, threads=torch_threads)


class TinyCNN(nn.Module):
    """(N, 8, 8, 1) -> (N, 10): conv3x3x16-relu-pool2, dense (the tests' SmallCNN)."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.max_pool(nn.relu(nn.Conv(16, (3, 3))(x)), (2, 2), (2, 2))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


TINY = {"epochs": 5, "batch": 32, "lr": 3e-3}


def tiny_data():
    """Digits: (x_train, y_train, x_test, y_test), NHWC float32, as tests/train/helpers."""
    from sklearn.datasets import load_digits

    d = load_digits()
    order = np.random.default_rng(0).permutation(len(d.target))
    x = (d.images[order] / 16.0).astype(np.float32)[..., None]
    y = d.target[order].astype(np.int32)
    return x[:1400], y[:1400], x[1400:], y[1400:]


def tiny_fit(data, workdir=None):
    """The tiny job through `fit`: (wall seconds, test accuracy)."""
    xt, yt, xe, ye = data
    cfg = TrainConfig(
        epochs=TINY["epochs"], batch_size=TINY["batch"], learning_rate=TINY["lr"], progress=False
    )
    programs.clear()  # the plain Flax loop compiles in every repeat: so does fit
    t0 = time.perf_counter()
    train, test = Dataset.from_arrays(xt, yt), Dataset.from_arrays(xe, ye)
    r = fit(TinyCNN(), train, test, cfg, workdir=workdir)
    return time.perf_counter() - t0, r.eval["accuracy"]


def tiny_flax(data, seed=0):
    """The same job as a plain Flax loop: (wall seconds, test accuracy)."""
    xt, yt, xe, ye = data
    t0 = time.perf_counter()
    model = TinyCNN()
    params = model.init(jax.random.key(seed), jnp.asarray(xt[:1]))["params"]
    tx = optax.adam(TINY["lr"])
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, x, y):
        def loss_fn(p):
            logits = model.apply({"params": p}, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    @jax.jit
    def correct(params, x, y):
        return jnp.sum(jnp.argmax(model.apply({"params": params}, x), -1) == y)

    b, steps = TINY["batch"], len(xt) // TINY["batch"]
    for epoch in range(TINY["epochs"]):
        perm = np.random.default_rng([seed, epoch]).permutation(len(xt))
        losses = []
        for s in range(steps):
            idx = perm[s * b : (s + 1) * b]
            params, opt_state, loss = step(params, opt_state, xt[idx], yt[idx])
            losses.append(loss)
        float(np.mean(jax.device_get(losses)))  # the epoch's training loss (synchronises)
        acc = int(correct(params, xe, ye)) / len(ye)
    return time.perf_counter() - t0, acc


def run_tiny(repeats: int) -> dict:
    """Interleaved repeats of the three contenders; medians of wall seconds."""
    import tempfile

    data = tiny_data()
    runs = {"fit": [], "fit_workdir": [], "flax": []}
    for r in range(repeats):
        for kind in rotated(list(runs), r):
            if kind == "flax":
                runs[kind].append(tiny_flax(data))
            elif kind == "fit":
                runs[kind].append(tiny_fit(data))
            else:
                with tempfile.TemporaryDirectory() as d:
                    runs[kind].append(tiny_fit(data, workdir=d))
    med = {k: statistics.median(x[0] for x in v) for k, v in runs.items()}
    row = {
        "fit_s": med["fit"],
        "fit_workdir_s": med["fit_workdir"],
        "flax_s": med["flax"],
        "fit_vs_flax": med["fit"] / med["flax"],
        "fit_workdir_vs_flax": med["fit_workdir"] / med["flax"],
        "accuracy": {k: [round(x[1], 4) for x in v] for k, v in runs.items()},
        "all_s": {k: [round(x[0], 3) for x in v] for k, v in runs.items()},
    }
    print(json.dumps(row), flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--tiny", action="store_true", help="the tiny-job overhead instead")
    args = parser.parse_args(argv)
    if args.tiny:
        row = run_tiny(args.repeats)
        if args.out:
            record = {"tiny": row, "repeats": args.repeats, "code_version": code_version()}
            write_json(args.out, record)
        return
    try:
        import torch  # noqa: F401

        have_torch = not args.no_torch
    except ImportError:
        have_torch = False

    rows = []
    for name in args.cases:
        _, shape, classes, batch, steps = CASES[name]
        x, y = make_data(shape, classes, batch * steps)
        runs = {k: [] for k in ("this", "flax_step", "torch") if k != "torch" or have_torch}
        order = list(runs)
        for r in range(args.repeats):
            for kind in rotated(order, r):
                runs[kind].append(run_one(kind, name, x, y, args.torch_threads))
        med = {k: statistics.median(r[0] for r in v) for k, v in runs.items() if v}
        row = {
            "case": name,
            "batch": batch,
            "this_ex_s": med["this"],
            "flax_step_ex_s": med["flax_step"],
            "speedup_vs_flax_step": med["this"] / med["flax_step"],
            "this_compile_s": statistics.median(r[1] for r in runs["this"]),
            "flax_step_compile_s": statistics.median(r[1] for r in runs["flax_step"]),
        }
        if "torch" in med:
            row["torch_ex_s"] = med["torch"]
            row["speedup_vs_torch"] = med["this"] / med["torch"]
        row["all"] = {k: [r[0] for r in v] for k, v in runs.items() if v}
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "all"}), flush=True)

    columns = ["case", "batch", "this_ex_s", "flax_step_ex_s", "speedup_vs_flax_step"]
    columns += ["torch_ex_s", "speedup_vs_torch"] if have_torch else []
    columns += ["this_compile_s", "flax_step_compile_s"]
    print(markdown_table(rows, columns))
    if args.out:
        write_json(
            args.out,
            {
                "rows": rows,
                "repeats": args.repeats,
                "devices": [str(d) for d in jax.devices()],
                "code_version": code_version(),
                "torch_threads": args.torch_threads if have_torch else None,
            },
        )


if __name__ == "__main__":
    main()
