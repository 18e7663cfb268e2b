"""`fit`, `evaluate` and `predict`: the one training loop of every pipeline.

An epoch is a list of *calls*; each call runs a chunk of ``steps_per_call`` steps of one
bucket inside one compiled ``lax.scan``. The list, the chunking and the example order are
pure functions of ``(seed, epoch)`` and the config, so a run resumed from a checkpoint (saved
only between calls) replays exactly the calls an uninterrupted run would make.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxcnn.train import results as results_io
from jaxcnn.train.config import TrainConfig
from jaxcnn.train.data import Dataset, eval_index_matrix, take_rows, train_index_matrix
from jaxcnn.train.metrics import summarize
from jaxcnn.train.optim import make_optimizer
from jaxcnn.train.parallel import check_batch, data_mesh, replicated
from jaxcnn.train.progress import progress_bar
from jaxcnn.train.step import loop_hurts_convolutions, make_eval_pass, make_train_chunk
from jaxcnn.train.streaming import call_inputs, device_arrays, eval_calls, gather_rows


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; names the step and the last good checkpoint."""

    def __init__(self, step: int, epoch: int, checkpoint: str | None):
        self.step, self.epoch, self.checkpoint = step, epoch, checkpoint
        super().__init__(
            f"fit: loss must be finite, got a non-finite loss at step {step} (epoch {epoch}); "
            f"last good checkpoint: {checkpoint or 'none'}"
        )


@dataclasses.dataclass
class FitResult:
    """What `fit` returns (see docs/DESIGN.md "Training")."""

    variables: dict
    history: list
    eval: dict | None
    throughput: float
    compile_seconds: float
    num_params: int
    compiles: int = 0
    steps: int = 0


def fit(model, train, eval, config: TrainConfig, *, workdir=None, variables=None) -> FitResult:
    """Train ``model`` on ``train`` and evaluate on ``eval`` after every epoch.

    Args:
      model: a Flax Linen module, ``__call__(x, train: bool)`` -> logits ``(B, C)`` or
        ``(B, L, C)``.
      train: a `Dataset`, or a sequence of them (buckets; each compiles once).
      eval: a `Dataset` or None.
      config: a `TrainConfig`.
      workdir: if given, checkpoints (resumed from automatically), metrics.jsonl,
        curves.png and results.json go there.
      variables: initial ``{"params", maybe "batch_stats"}``; None = ``model.init``.

    Returns:
      a `FitResult`.

    Raises:
      TypeError: config is not a TrainConfig, or train/eval are not Datasets.
      ValueError: batch size not divisible by the device count, or larger than a bucket; a
        `Dataset.from_arrays` / `Dataset.streaming` label outside ``[0, C)`` for the model's C
        outputs (its loss would be NaN, or with label smoothing silently wrong).
      NonFiniteLossError: the loss became NaN/inf (the run stops at the end of that call).
    """
    fn = "fit"
    if not isinstance(config, TrainConfig):
        raise TypeError(f"{fn}: config must be a TrainConfig, got {type(config).__name__}")
    buckets = _as_buckets(train, fn)
    if eval is not None and not isinstance(eval, Dataset):
        raise TypeError(f"{fn}: eval must be a Dataset or None, got {type(eval).__name__}")
    mesh = data_mesh()
    check_batch(config.batch_size, mesh, fn)
    for i, b in enumerate(buckets):
        if b.size < config.batch_size:
            raise ValueError(
                f"{fn}: batch_size must be <= every bucket's size, got {config.batch_size} "
                f"> size {b.size} of bucket {i}"
            )
    repl = replicated(mesh)
    arrays = [device_arrays(b, repl) for b in buckets]
    steps = [b.size // config.batch_size for b in buckets]
    chunk = [_chunk_len(config, s) for s in steps]
    total_steps = config.epochs * sum(steps)

    if variables is None:
        variables = init_variables(model, buckets[0], config.seed)
    names = ["train"] if len(buckets) == 1 else [f"train bucket {i}" for i in range(len(buckets))]
    labelled = dict(zip(names, buckets, strict=True))
    if eval is not None:
        labelled["eval"] = eval
    _check_labels(model, variables, labelled, fn)
    params = variables["params"]
    tx = make_optimizer(config, total_steps, params)
    state = {
        "params": params,
        "opt_state": tx.init(params),
        "batch_stats": variables.get("batch_stats", {}),
        "step": jnp.zeros((), jnp.int32),
    }
    # Copy first: the training call donates its input buffers, and the caller's
    # ``variables`` must stay valid.
    state = jax.device_put(jax.tree.map(lambda a: jnp.array(a, copy=True), state), repl)
    num_params = int(sum(np.size(p) for p in jax.tree.leaves(params)))

    ckpt = None
    history, start_epoch, start_call, sums = [], 0, 0, _zero_sums()
    if workdir is not None:
        from jaxcnn.train.checkpoint import Checkpointer

        workdir = Path(workdir)
        ckpt = Checkpointer(workdir / "checkpoints", keep_last=config.keep_last)
        restored = ckpt.restore_latest(state, config.to_dict())
        if restored is not None:
            state, meta = restored
            state = jax.device_put(state, repl)
            history, sums = meta["history"], meta["sums"]
            start_epoch, start_call = meta["epoch"], meta["call"]

    def train_chunk(take, padded, per_step=False):
        return make_train_chunk(
            model,
            tx,
            take,
            mesh,
            seed=config.seed,
            label_smoothing=config.label_smoothing,
            padded=padded,
            per_step=per_step,
        )

    compiled, compile_seconds = {}, 0.0
    evaluator = _Evaluator(model, mesh, config.num_classes)
    train_seconds, train_examples = 0.0, 0
    last_saved = int(state["step"])
    bar = progress_bar(max(total_steps - last_saved, 0), config.progress)
    try:
        for epoch in range(start_epoch, config.epochs):
            calls = epoch_calls(config.seed, epoch, steps, chunk)
            mats = [
                _chunked(train_index_matrix(config.seed, epoch, b.size, config.batch_size, i), c)
                for i, (b, c) in enumerate(zip(buckets, chunk, strict=True))
            ]
            t_epoch = time.perf_counter()
            for ci in range(start_call if epoch == start_epoch else 0, len(calls)):
                b, k = calls[ci]
                active = mats[b][1][k]
                t_rows = time.perf_counter()  # a streamed call's host gather is training time
                call_arrays, idx = call_inputs(buckets[b], arrays[b], mats[b][0][k], repl)
                train_seconds += time.perf_counter() - t_rows
                if b not in compiled:
                    t0 = time.perf_counter()
                    padded = steps[b] % chunk[b] != 0
                    compiled[b] = _compile(
                        lambda per_step, b=b, p=padded: train_chunk(buckets[b].take, p, per_step),
                        state,
                        call_arrays,
                        idx,
                        active,
                        mesh,
                    )
                    compile_seconds += time.perf_counter() - t0
                t0 = time.perf_counter()
                prev_step = int(state["step"])
                state, out = compiled[b](state, call_arrays, idx, active)
                out = jax.device_get(out)
                train_seconds += time.perf_counter() - t0
                n_active = int(np.sum(active))
                train_examples += n_active * config.batch_size
                bad = np.flatnonzero(~np.isfinite(out["loss"][:n_active]))
                if bad.size:
                    raise NonFiniteLossError(
                        prev_step + int(bad[0]), epoch, ckpt.latest_path if ckpt else None
                    )
                for key in ("loss", "weight", "correct"):
                    sums[key] += float(np.sum(out[key], dtype=np.float64))
                bar.update(n_active)
                bar.set_postfix(
                    loss=f"{sums['loss'] / max(sums['weight'], 1e-12):.4f}",
                    acc=f"{sums['correct'] / max(sums['weight'], 1e-12):.3f}",
                    ex_s=f"{train_examples / max(train_seconds, 1e-9):.0f}",
                )
                step = int(state["step"])
                every = config.checkpoint_every
                if ckpt and every and step // every > last_saved // every and ci + 1 < len(calls):
                    meta = _meta(epoch, ci + 1, step, history, sums, config)
                    ckpt.save(step, state, meta)
                    last_saved = step
            row = {
                "epoch": epoch + 1,
                "train_loss": sums["loss"] / max(sums["weight"], 1e-12),
                "train_accuracy": sums["correct"] / max(sums["weight"], 1e-12),
            }
            if eval is not None:
                m = evaluator(_variables(state), eval, config.eval_batch_size)
                row["eval_loss"], row["eval_accuracy"] = m["loss"], m["accuracy"]
            row["seconds"] = time.perf_counter() - t_epoch
            history.append(row)
            sums = _zero_sums()
            if ckpt is not None:  # set exactly when workdir is given
                step = int(state["step"])
                ckpt.save(
                    step,
                    state,
                    _meta(epoch + 1, 0, step, history, sums, config),
                    metric=row.get("eval_accuracy"),
                )
                last_saved = step
                results_io.write_jsonl(workdir / "metrics.jsonl", history)
                results_io.plot_curves(history, workdir / "curves.png")
    finally:
        bar.close()

    final_vars = _variables(state)
    final_eval = None
    if eval is not None:
        final_eval = evaluator(final_vars, eval, config.eval_batch_size)
    result = FitResult(
        variables=final_vars,
        history=history,
        eval=final_eval,
        throughput=train_examples / train_seconds if train_seconds > 0 else 0.0,
        compile_seconds=compile_seconds,
        num_params=num_params,
        compiles=len(compiled),
        steps=int(state["step"]),
    )
    if workdir is not None:
        results_io.write_json(workdir / "results.json", _results_record(result, config, mesh))
    return result


def evaluate(model, variables, dataset, *, batch_size=1024, num_classes=None) -> dict:
    """Loss, accuracy, top-5, per-class accuracy and confusion over every example once.

    Args:
      model: Flax module; variables: ``{"params", maybe "batch_stats"}``.
      dataset: a `Dataset`; batch_size: examples per batch (rounded up to the device count).
      num_classes: rows/columns of the confusion matrix; None = the logits' last axis.

    Returns:
      dict: loss, accuracy, top5 (floats), count, per_class (list), confusion (list of lists).

    Raises:
      TypeError: dataset is not a Dataset. ValueError: batch_size < 1, or a `Dataset.from_arrays`
        / `Dataset.streaming` label outside ``[0, C)``.
    """
    _check_eval_args(dataset, batch_size, "evaluate")
    _check_labels(model, variables, {"dataset": dataset}, "evaluate")
    return _Evaluator(model, data_mesh(), num_classes)(variables, dataset, batch_size)


def predict(model, variables, dataset, *, batch_size=1024) -> np.ndarray:
    """Logits of every example in order: ``(size, C)`` or ``(size, L, C)`` as NumPy.

    Raises:
      TypeError: dataset is not a Dataset. ValueError: batch_size < 1.
    """
    _check_eval_args(dataset, batch_size, "predict")
    mesh = data_mesh()
    b = _eval_batch(batch_size, dataset.size, mesh)
    idx, valid = eval_index_matrix(dataset.size, b)
    run = jax.jit(make_eval_pass(model, dataset.take, mesh, with_logits=True))
    repl = replicated(mesh)
    variables = jax.device_put(variables, repl)
    arrays = device_arrays(dataset, repl)
    logits = np.concatenate(
        [
            np.asarray(run(variables, a, i, v))
            for a, i, v in eval_calls(dataset, arrays, idx, valid, repl)
        ]
    )
    return logits.reshape((-1,) + logits.shape[2:])[: dataset.size]


def init_variables(model, dataset: Dataset, seed: int) -> dict:
    """``model.init`` on one example of ``dataset``; the key is derived from ``seed``."""
    arrays = (
        gather_rows(dataset.arrays, np.zeros(1, np.int32)) if dataset.streamed else dataset.arrays
    )
    batch = dataset.take(arrays, jnp.zeros((1,), jnp.int32))
    init_key, drop_key = jax.random.split(jax.random.key(seed))
    variables = model.init({"params": init_key, "dropout": drop_key}, batch["x"], train=False)
    return dict(variables)


def epoch_calls(seed: int, epoch: int, steps: Sequence[int], chunk: Sequence[int]):
    """The epoch's calls ``[(bucket, chunk_index), ...]``: a pure function of (seed, epoch).

    One bucket: chunks in order. Several: all buckets' chunks interleaved in a shuffled order,
    so no bucket always comes last.
    """
    calls = [
        (b, k)
        for b, (s, c) in enumerate(zip(steps, chunk, strict=True))
        for k in range(math.ceil(s / c))
    ]
    if len(steps) > 1:
        order = np.random.default_rng([seed, epoch, 1 << 20]).permutation(len(calls))
        calls = [calls[i] for i in order]
    return calls


def _chunk_len(config: TrainConfig, steps: int) -> int:
    c = config.steps_per_call or steps
    if config.checkpoint_every:
        c = min(c, config.checkpoint_every)
    return max(1, min(c, steps))


def _chunked(mat: np.ndarray, c: int):
    """Split an (steps, B) index matrix into (n, c, B) chunks; the last is padded, inactive."""
    steps, b = mat.shape
    n = math.ceil(steps / c)
    idx = np.zeros((n * c, b), np.int32)
    idx[:steps] = mat
    active = np.zeros(n * c, bool)
    active[:steps] = True
    return idx.reshape(n, c, b), active.reshape(n, c)


def _compile(make_fn, state, arrays, idx, active, mesh):
    """The bucket's compiled call ``(state, arrays, idx (S, B), active (S,)) -> (state, out)``.

    Ahead-of-time: the compile time is measured on its own, never inside a training call.
    The whole chunk is one ``lax.scan`` (its step's convolutions canonicalised, so that XLA
    CPU runs them fast in the loop: `jaxcnn.train.canonical`); should a convolution still be
    left on XLA CPU's slow path (`loop_hurts_convolutions`), one step is compiled instead and
    the call runs it ``S`` times from Python: same steps, same state, same outputs.
    """
    repl = replicated(mesh)
    jitted = jax.jit(make_fn(False), in_shardings=repl, out_shardings=repl, donate_argnums=(0,))
    lowered = jitted.lower(state, arrays, idx, active)
    if not loop_hurts_convolutions(lowered, mesh):
        return lowered.compile()
    step = jax.jit(make_fn(True), in_shardings=repl, out_shardings=repl, donate_argnums=(0,))
    return _StepByStep(step.lower(state, arrays, idx[0]).compile())


class _StepByStep:
    """A chunk call made of single compiled steps (each in XLA's entry computation).

    Inactive (padding) steps are skipped on the host and report zero sums, exactly like the
    scan's ``cond``; the per-step sums stay on the device until the call ends (no host sync
    per step), so the loop sees the same ``(S,)`` arrays as from the scan.
    """

    def __init__(self, step):
        self.step = step

    def __call__(self, state, arrays, idx, active):
        idx, active = np.asarray(idx), np.asarray(active)
        sums = []
        for s in np.flatnonzero(active):
            state, out = self.step(state, arrays, idx[s])
            sums.append(out)
        sums = jax.device_get(sums)
        out = {k: np.zeros(len(active), np.float32) for k in ("loss", "weight", "correct")}
        for s, o in zip(np.flatnonzero(active), sums, strict=True):
            for k in out:
                out[k][s] = o[k]
        return state, out


class _Evaluator:
    """Compiled evaluation passes, one per data set (and shape), reused across epochs."""

    def __init__(self, model, mesh, num_classes):
        self.model, self.mesh, self.num_classes, self.cache = model, mesh, num_classes, {}

    def __call__(self, variables, dataset, batch_size):
        b = _eval_batch(batch_size, dataset.size, self.mesh)
        key = (id(dataset), b)
        repl = replicated(self.mesh)
        if key not in self.cache:
            nc = self.num_classes or _num_classes(self.model, variables, dataset)
            run = jax.jit(make_eval_pass(self.model, dataset.take, self.mesh, num_classes=nc))
            self.cache[key] = (run, device_arrays(dataset, repl))
        run, arrays = self.cache[key]
        idx, valid = eval_index_matrix(dataset.size, b)
        sums = None
        for a, i, v in eval_calls(dataset, arrays, idx, valid, repl):
            part = jax.device_get(run(variables, a, i, v))
            sums = part if sums is None else jax.tree.map(np.add, sums, part)
        assert sums is not None  # a Dataset holds at least one example: one call at least
        return summarize(sums)


def _check_labels(model, variables, datasets: dict, fn) -> None:
    """Raise ValueError if a row-wise data set's labels fall outside ``[0, C)``.

    ``datasets`` maps the name an error uses to a `Dataset`. Only data sets whose ``take`` is
    `take_rows` hold their labels as one array ``y``; a custom ``take`` (a frame bank) builds
    them in the step and is not checked. The check matters because nothing in the compiled
    step can raise: an out-of-range label gives a NaN loss (or, with label smoothing, a zero
    target), as PyTorch would refuse with an error. The model is traced once, for ``C``.
    """
    classes = None
    for name, dataset in datasets.items():
        if dataset.take is not take_rows or not isinstance(dataset.arrays, dict):
            continue
        y = dataset.arrays.get("y")
        if y is None or np.size(y) == 0:
            continue
        if classes is None:
            classes = _num_classes(model, variables, dataset)
        lo, hi = int(np.min(y)), int(np.max(y))
        if lo < 0 or hi >= classes:
            raise ValueError(
                f"{fn}: {name} labels must be in [0, {classes}) for the model's {classes} "
                f"outputs, got min {lo}, max {hi}"
            )


def _num_classes(model, variables, dataset) -> int:
    batch = jax.eval_shape(dataset.take, dataset.arrays, jnp.zeros((1,), jnp.int32))
    out = jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, batch["x"])
    return int(out.shape[-1])


def _eval_batch(batch_size: int, size: int, mesh) -> int:
    """Evaluation batch: no larger than needed, rounded up to a multiple of the devices."""
    n = mesh.devices.size
    b = min(batch_size, size)
    return -(-b // n) * n


def _check_eval_args(dataset, batch_size, fn):
    if not isinstance(dataset, Dataset):
        raise TypeError(f"{fn}: dataset must be a Dataset, got {type(dataset).__name__}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"{fn}: batch_size must be a positive int, got {batch_size!r}")


def _as_buckets(train, fn) -> list[Dataset]:
    if isinstance(train, Dataset):
        return [train]
    if isinstance(train, Sequence) and train and all(isinstance(d, Dataset) for d in train):
        return list(train)
    raise TypeError(
        f"{fn}: train must be a Dataset or a non-empty sequence of Datasets, "
        f"got {type(train).__name__}"
    )


def _variables(state) -> dict:
    out = {"params": state["params"]}
    if state["batch_stats"]:
        out["batch_stats"] = state["batch_stats"]
    return out


def _zero_sums() -> dict:
    return {"loss": 0.0, "weight": 0.0, "correct": 0.0}


def _meta(epoch, call, step, history, sums, config) -> dict:
    return {
        "epoch": epoch,
        "call": call,
        "step": step,
        "history": list(history),
        "sums": dict(sums),
        "config": config.to_dict(),
    }


def _results_record(result: FitResult, config: TrainConfig, mesh) -> dict:
    return {
        "config": config.to_dict(),
        "num_params": result.num_params,
        "final": {"eval": result.eval, "train": result.history[-1] if result.history else None},
        "history": result.history,
        "throughput_examples_per_s": result.throughput,
        "compile_seconds": result.compile_seconds,
        "steps": result.steps,
        "devices": [str(d) for d in mesh.devices.flat],
        "code_version": results_io.code_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
