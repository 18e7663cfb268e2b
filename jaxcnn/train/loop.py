"""`fit`, `evaluate` and `predict`: the one training loop of every pipeline.

An epoch is a list of *calls*; each call runs a chunk of ``steps_per_call`` steps of one
bucket inside one compiled ``lax.scan``. The list, the chunking and the example order are
pure functions of ``(seed, epoch)`` and the config, so a run resumed from a checkpoint (saved
only between calls) replays exactly the calls an uninterrupted run would make.

Read top-down: `fit` plans the run (`_plan`), opens the workdir (`_open`: provenance, resume),
trains epoch by epoch (`_train` -> `_train_epoch` -> `_run_call`), and finishes (`_finish`).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import math
import shutil
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcnn._cpu import heaps, xla_options
from jaxcnn.train import _resume, _validate, programs, provenance
from jaxcnn.train import results as results_io
from jaxcnn.train.adapters import Adapted, as_model
from jaxcnn.train.callbacks import BestCheckpoint, FitContext, PlotCurves
from jaxcnn.train.config import TrainConfig
from jaxcnn.train.data import Dataset, eval_index_matrix, take_rows, train_index_matrix
from jaxcnn.train.lock import locks_workdir
from jaxcnn.train.metrics import BUILTIN, LossFn, smoothed_cross_entropy, summarize
from jaxcnn.train.optim import make_optimizer
from jaxcnn.train.parallel import check_batch, data_mesh, replicated
from jaxcnn.train.processes import barrier, is_writer
from jaxcnn.train.progress import progress_bar
from jaxcnn.train.state import TrainState, initial_state
from jaxcnn.train.step import loop_hurts_convolutions, make_eval_pass, make_train_chunk
from jaxcnn.train.streaming import call_inputs, device_arrays, eval_calls, gather_rows
from jaxcnn.train.tuned import jit_for_variant


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
    """What `fit` returns (see docs/DESIGN.md "Training").

    ``variables`` are the last epoch's, or the best epoch's with `BestCheckpoint`
    (``best_epoch`` names it); ``state`` is the final `TrainState` (last epoch, always);
    ``eval`` evaluates ``variables``. ``compiles`` counts the training programs the run used
    (one per bucket trained, 0 when nothing was left to train); one that an earlier `fit` in
    this process compiled is reused (`jaxcnn.train.programs`), and ``compile_seconds`` then
    measures only its lowering.
    """

    variables: dict
    history: list
    eval: dict | None
    throughput: float
    compile_seconds: float
    num_params: int
    compiles: int = 0
    steps: int = 0
    state: TrainState | None = None
    best_epoch: int | None = None
    stopped_early: bool = False


@locks_workdir
def fit(
    model: Any,
    train: Dataset | Sequence[Dataset],
    eval: Dataset | None,
    config: TrainConfig,
    *,
    workdir: str | Path | None = None,
    variables: dict | None = None,
    optimizer: optax.GradientTransformation | None = None,
    loss: LossFn | None = None,
    metrics: Mapping[str, LossFn] | None = None,
    callbacks: Sequence[Any] = (),
    overwrite: bool = False,
) -> FitResult:
    """Train ``model`` on ``train`` and evaluate on ``eval`` after every epoch.

    Args:
      model: a Flax Linen module (``__call__(x)`` or ``__call__(x, train)``; any mutable
        collections, e.g. BatchNorm's ``batch_stats``), a Flax NNX module, or a
        `jaxcnn.train.Model` ``(init, apply)`` pair; logits ``(B, C)`` or ``(B, L, C)``.
      train: a `Dataset`, or a sequence of them (buckets; each compiles once).
      eval: a `Dataset` or None.
      config: a `TrainConfig`.
      workdir: if given, checkpoints (resumed from automatically), metrics.jsonl,
        curves.png (at the end) and results.json go there.
      variables: initial ``{"params", other collections...}``; None = the model's init.
      optimizer: any ``optax.GradientTransformation``; None = built from the config. Given, it
        replaces the config's optimizer, learning_rate, momentum, weight_decay, schedule,
        warmup_steps and grad_clip (``frozen`` still applies).
      loss: ``(logits, labels, weight) -> per-element loss`` of ``labels``' shape (``weight``
        is the batch's weights, for a loss that needs them); training minimises its
        weighted mean, evaluation reports it. None = cross-entropy (with label smoothing).
      metrics: ``{name: fn}``, ``fn`` like ``loss``; history gets ``train_<name>`` and
        ``eval_<name>`` (weighted means).
      callbacks: objects of the `jaxcnn.train.callbacks` protocol (EarlyStopping,
        BestCheckpoint, CSVLogger, ...). A workdir run without a `PlotCurves` draws
        curves.png once at the end.
      overwrite: with a workdir holding a run of another config, delete that run's
        checkpoints and results and start afresh (else `ProvenanceError`).

    Returns:
      a `FitResult`.

    Raises:
      TypeError: config is not a TrainConfig, train/eval are not Datasets, model is not a
        model of a supported kind, or a callback has none of the protocol's methods.
      ValueError: batch size not divisible by the device count, or larger than a bucket; a
        `Dataset.from_arrays` / `Dataset.streaming` label outside ``[0, C)`` for the model's C
        outputs; a metric named like a built-in one.
      ProvenanceError (a ValueError): the workdir holds a run of another config (each
        differing field named with both values), unless ``overwrite``; raising only
        ``epochs`` continues that run.
      NonFiniteLossError: the loss became NaN/inf (the run stops at the end of that call).
    """
    plan, state = _plan(model, train, eval, config, variables, optimizer, loss, metrics, workdir)
    callbacks = _with_defaults(callbacks, workdir)
    ckpt, state, progress = _open(plan, state, overwrite, callbacks)
    state = _train(plan, state, progress, ckpt, callbacks)
    return _finish(plan, state, progress, ckpt, callbacks)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What stays fixed for the whole run."""

    model: Adapted
    buckets: list
    eval: Dataset | None
    config: TrainConfig
    mesh: Any
    arrays: list
    steps: list
    chunk: list
    tx: optax.GradientTransformation
    loss: LossFn
    eval_loss: LossFn | None
    metrics: tuple
    num_classes: int | None
    num_params: int
    record: dict  # what provenance compares: the config plus how fit was called
    workdir: Path | None = None
    custom_optimizer: bool = False  # the caller's optax transform, not the config's


@dataclasses.dataclass
class _Progress:
    """Where the run stands (checkpointed in the metadata) and its timings (not)."""

    epoch: int = 0
    call: int = 0
    history: list = dataclasses.field(default_factory=list)
    sums: dict = dataclasses.field(default_factory=dict)
    stopped: bool = False
    continued: list = dataclasses.field(default_factory=list)
    compiled: dict = dataclasses.field(default_factory=dict)
    variant: str = "default"  # the training program's XLA option set; its evaluations use it
    compile_seconds: float = 0.0
    train_seconds: float = 0.0
    train_examples: int = 0
    last_saved: int = 0


def _plan(model, train, eval, config, variables, optimizer, loss, metrics, workdir):
    """Check the arguments, adapt the model and build the run's fixed parts and first state."""
    fn = "fit"
    if not isinstance(config, TrainConfig):
        raise TypeError(f"{fn}: config must be a TrainConfig, got {type(config).__name__}")
    adapted = as_model(model, fn)
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
    metric_pairs = _metric_pairs(metrics, fn)
    repl = replicated(mesh)
    steps = [b.size // config.batch_size for b in buckets]
    if variables is None:
        variables = _init(adapted, buckets[0], config.seed)
    names = ["train"] if len(buckets) == 1 else [f"train bucket {i}" for i in range(len(buckets))]
    labelled = dict(zip(names, buckets, strict=True))
    if eval is not None:
        labelled["eval"] = eval
    _validate.check_model_fits(adapted, variables, labelled, config.num_classes, fn)
    _check_labels(adapted, variables, labelled, fn)
    tx = make_optimizer(config, _total_steps(config, steps), variables.get("params"), optimizer)
    state = initial_state(variables, tx, config.seed)
    # Copy first: the training call donates its input buffers, and the caller's
    # ``variables`` must stay valid.
    state = jax.device_put(jax.tree.map(lambda a: jnp.array(a, copy=True), state), repl)
    plan = _Plan(
        model=adapted,
        buckets=buckets,
        eval=eval,
        config=config,
        mesh=mesh,
        arrays=[device_arrays(b, repl) for b in buckets],
        steps=steps,
        chunk=[_chunk_len(config, s) for s in steps],
        tx=tx,
        loss=loss or smoothed_cross_entropy(config.label_smoothing),
        eval_loss=loss,
        metrics=metric_pairs,
        num_classes=config.num_classes
        or (None if eval is None else _num_classes(adapted, variables, eval)),
        num_params=int(sum(np.size(p) for p in jax.tree.leaves(state.params))),
        record=_record(config, optimizer, loss, metric_pairs),
        workdir=None if workdir is None else Path(workdir),
        custom_optimizer=optimizer is not None,
    )
    return plan, state


_HOOKS = ("on_call_end", "on_epoch_end", "on_fit_end")


def _with_defaults(callbacks: Sequence[Any], workdir) -> list:
    """The caller's callbacks, plus curves.png at the end of a workdir run without PlotCurves
    (when matplotlib, the plots extra, is installed: the core trains without it)."""
    if isinstance(callbacks, str | bytes) or not isinstance(callbacks, Sequence):
        raise TypeError(f"fit: callbacks must be a sequence, got {type(callbacks).__name__}")
    for i, cb in enumerate(callbacks):
        # an object with no hook would be skipped by `_notify` without a word
        if not any(callable(getattr(cb, h, None)) for h in _HOOKS):
            raise TypeError(
                f"fit: callbacks[{i}] must have a method {' / '.join(_HOOKS)}, "
                f"got {type(cb).__name__}"
            )
    callbacks = list(callbacks)
    default_curves = workdir is not None and results_io.can_plot()
    if default_curves and not any(isinstance(c, PlotCurves) for c in callbacks):
        callbacks.append(PlotCurves())
    return callbacks


def _open(plan: _Plan, state: TrainState, overwrite: bool, callbacks: list):
    """``(checkpointer, state, progress)``: resumed from the workdir's newest checkpoint.

    The workdir's config must be the current one (`provenance.compare`); ``overwrite``
    deletes the old run first.
    """
    progress = _Progress(sums=_zero_sums(plan.metrics), last_saved=int(state.step))
    workdir = plan.workdir
    if workdir is None:
        return None, state, progress
    from jaxcnn.train.checkpoint import Checkpointer

    if overwrite:
        if is_writer():
            _clear_run(workdir)
        barrier("fit: cleared")
    best = next((c for c in callbacks if isinstance(c, BestCheckpoint)), None)
    ckpt = Checkpointer(
        workdir / "checkpoints",
        keep_last=plan.config.keep_last,
        best_mode=best.mode if best else "max",
    )
    restored = ckpt.restore_latest(state)
    stored = restored[1]["config"] if restored else _results_config(workdir)
    budget = provenance.compare(stored, plan.record, str(workdir)) if stored else {}
    if restored is None:
        return ckpt, state, progress
    state, meta = restored
    state = jax.device_put(state, replicated(plan.mesh))
    progress.history, progress.sums = meta["history"], meta["sums"]
    progress.epoch, progress.call = meta["epoch"], meta["call"]
    progress.stopped = meta.get("stopped", False)
    progress.continued = list(meta.get("continued", []))
    if "epochs" in budget:
        old, new = budget["epochs"]
        progress.continued.append({"from_epochs": old, "to_epochs": new, "at_step": meta["step"]})
    progress.last_saved = int(state.step)
    return ckpt, state, progress


def _train(plan: _Plan, state: TrainState, progress: _Progress, ckpt, callbacks) -> TrainState:
    """Epochs until ``config.epochs`` or a callback stops the run."""
    total = plan.config.epochs * sum(plan.steps)
    bar = progress_bar(max(total - int(state.step), 0), plan.config.progress)
    try:
        while progress.epoch < plan.config.epochs and not progress.stopped:
            state = _train_epoch(plan, state, progress, ckpt, callbacks, bar)
    finally:
        bar.close()
    return state


def _train_epoch(plan: _Plan, state, progress: _Progress, ckpt, callbacks, bar) -> TrainState:
    """The epoch's remaining calls, then its history row, callbacks and checkpoint."""
    cfg, epoch = plan.config, progress.epoch
    calls = epoch_calls(cfg.seed, epoch, plan.steps, plan.chunk)
    mats = [
        _chunked(train_index_matrix(cfg.seed, epoch, b.size, cfg.batch_size, i), c)
        for i, (b, c) in enumerate(zip(plan.buckets, plan.chunk, strict=True))
    ]
    t_epoch = time.perf_counter()
    for ci in range(progress.call, len(calls)):
        state = _run_call(plan, state, progress, calls[ci], mats, ckpt, bar)
        progress.call = ci + 1
        progress.stopped |= _notify(callbacks, "on_call_end", _context(plan, state, progress, ckpt))
        if ci + 1 < len(calls) and (progress.stopped or _checkpoint_due(plan, state, progress)):
            _save(ckpt, state, progress, plan)
            if progress.stopped:
                return state
    progress.history.append(_epoch_row(plan, state, progress, t_epoch))
    progress.epoch, progress.call, progress.sums = epoch + 1, 0, _zero_sums(plan.metrics)
    progress.stopped |= _notify(callbacks, "on_epoch_end", _context(plan, state, progress, ckpt))
    _save(ckpt, state, progress, plan, metric=_best_metric(progress.history[-1], callbacks))
    if plan.workdir is not None:
        results_io.write_jsonl(plan.workdir / "metrics.jsonl", progress.history)
    return state


def _run_call(plan: _Plan, state, progress: _Progress, call, mats, ckpt, bar) -> TrainState:
    """One compiled call (a chunk of steps of one bucket); its sums go into ``progress``."""
    b, k = call
    active = mats[b][1][k]
    repl = replicated(plan.mesh)
    t_rows = time.perf_counter()  # a streamed call's host gather is training time
    call_arrays, idx = call_inputs(plan.buckets[b], plan.arrays[b], mats[b][0][k], repl)
    progress.train_seconds += time.perf_counter() - t_rows
    if b not in progress.compiled:
        t0 = time.perf_counter()
        progress.compiled[b], progress.variant = _compile(plan, b, state, call_arrays, idx, active)
        progress.compile_seconds += time.perf_counter() - t0
    t0 = time.perf_counter()
    prev_step = int(state.step)
    state, out = progress.compiled[b](state, call_arrays, idx, active)
    out = jax.device_get(out)
    progress.train_seconds += time.perf_counter() - t0
    n_active = int(np.sum(active))
    progress.train_examples += n_active * plan.config.batch_size
    bad = np.flatnonzero(~np.isfinite(out["loss"][:n_active]))
    if bad.size:
        last = ckpt.latest_path if ckpt else None
        raise NonFiniteLossError(prev_step + int(bad[0]), progress.epoch, last)
    for key in progress.sums:
        progress.sums[key] += float(np.sum(out[key], dtype=np.float64))
    _show(bar, progress, n_active)
    return state


def _train_chunk_fn(plan: _Plan, b: int) -> Callable:
    """Bucket ``b``'s pure training call (`make_train_chunk`), before compilation."""
    return make_train_chunk(
        plan.model,
        plan.tx,
        plan.buckets[b].take,
        plan.mesh,
        loss=plan.loss,
        metrics=plan.metrics,
        padded=_padded(plan, b),
        compute_dtype=plan.config.compute_dtype,
    )


def _total_steps(config: TrainConfig, steps: Sequence[int]) -> int:
    """The run's optimiser steps (its schedule's length): every bucket's steps, every epoch."""
    return config.epochs * sum(steps)


def _padded(plan: _Plan, b: int) -> bool:
    """Whether bucket ``b``'s last call of an epoch has inactive (padding) steps."""
    return plan.steps[b] % plan.chunk[b] != 0


def _show(bar, progress: _Progress, n_active: int) -> None:
    s = progress.sums
    bar.update(n_active)
    bar.set_postfix(
        loss=f"{s['loss'] / max(s['weight'], 1e-12):.4f}",
        acc=f"{s['correct'] / max(s['weight'], 1e-12):.3f}",
        ex_s=f"{progress.train_examples / max(progress.train_seconds, 1e-9):.0f}",
    )


def _checkpoint_due(plan: _Plan, state, progress: _Progress) -> bool:
    """A mid-epoch save: the first call boundary after each multiple of checkpoint_every."""
    every = plan.config.checkpoint_every
    if not every:
        return False
    return int(state.step) // every > progress.last_saved // every


def _epoch_row(plan: _Plan, state, progress: _Progress, t_epoch: float) -> dict:
    """The epoch's history row: train sums as means, then the evaluation."""
    s = progress.sums
    w = max(s["weight"], 1e-12)
    row: dict[str, float] = {"epoch": progress.epoch + 1, "step": int(state.step)}
    row["train_loss"], row["train_accuracy"] = s["loss"] / w, s["correct"] / w
    for name, _ in plan.metrics:
        row[f"train_{name}"] = s[name] / w
    if plan.eval is not None:
        m = _evaluate_plan(plan, state.variables, progress.variant)
        for key in ["loss", "accuracy"] + [n for n, _ in plan.metrics]:
            row[f"eval_{key}"] = m[key]
    row["seconds"] = time.perf_counter() - t_epoch
    return row


def _save(ckpt, state, progress: _Progress, plan: _Plan, metric=None) -> None:
    if ckpt is None:
        return
    step = int(state.step)
    meta = {
        "epoch": progress.epoch,
        "call": progress.call,
        "step": step,
        "history": list(progress.history),
        "sums": dict(progress.sums),
        "config": plan.record,
        "stopped": progress.stopped,
        "continued": progress.continued,
    }
    ckpt.save(step, state, meta, metric=metric)
    progress.last_saved = step


def _best_metric(row: dict, callbacks) -> float | None:
    """The value the checkpoints are ranked by: BestCheckpoint's monitor, else eval accuracy."""
    best = next((c for c in callbacks if isinstance(c, BestCheckpoint)), None)
    return row.get(best.monitor if best else "eval_accuracy")


def _context(plan: _Plan, state, progress: _Progress, ckpt) -> FitContext:
    restore = None
    if ckpt is not None:

        def restore(step: int) -> dict:
            return ckpt.restore_step(step, state).variables

    return FitContext(
        config=plan.config,
        workdir=plan.workdir,
        epoch=progress.epoch,
        step=int(state.step),
        history=progress.history,
        state=state,
        restore=restore,
    )


def _notify(callbacks, method: str, ctx: FitContext) -> bool:
    """Call ``method`` on every callback that has it; True if any asked to stop."""
    stop = False
    for cb in callbacks:
        hook = getattr(cb, method, None)
        if hook is not None:
            stop |= bool(hook(ctx))
    return stop


def _finish(plan: _Plan, state, progress: _Progress, ckpt, callbacks) -> FitResult:
    """Run the end callbacks, evaluate what is returned, write results.json."""
    ctx = _context(plan, state, progress, ckpt)
    final_vars = state.variables
    for cb in callbacks:
        hook = getattr(cb, "on_fit_end", None)
        out = hook(ctx) if hook is not None else None
        if out is not None:
            final_vars = out
    best = next((c for c in callbacks if isinstance(c, BestCheckpoint)), None)
    result = FitResult(
        variables=final_vars,
        history=progress.history,
        eval=None if plan.eval is None else _evaluate_plan(plan, final_vars, progress.variant),
        throughput=progress.train_examples / progress.train_seconds
        if progress.train_seconds > 0
        else 0.0,
        compile_seconds=progress.compile_seconds,
        num_params=plan.num_params,
        compiles=len(progress.compiled),
        steps=int(state.step),
        state=state,
        best_epoch=best.best_row(progress.history)["epoch"] if best and progress.history else None,
        stopped_early=progress.stopped,
    )
    result = _resume.settle(result, plan.workdir)
    if plan.workdir is not None:
        record = _results_record(result, plan.config, plan.mesh)
        record["config"] = plan.record
        record["continued"] = progress.continued
        record["best_epoch"], record["stopped_early"] = result.best_epoch, result.stopped_early
        results_io.write_json(plan.workdir / "results.json", record)
        barrier("fit: results written")  # a next fit on any process may read them
    return result


def _evaluate_plan(plan: _Plan, variables: dict, variant: str) -> dict:
    """The evaluation of ``fit``, compiled with the training program's XLA option set
    ``variant``: no second measurement, and the eval shapes' lowerings tuned for that set."""
    return _evaluate(
        plan.model,
        variables,
        plan.eval,
        plan.config.eval_batch_size,
        plan.mesh,
        plan.num_classes,
        plan.eval_loss,
        plan.metrics,
        variant,
    )


def evaluate(
    model: Any,
    variables: dict,
    dataset: Dataset,
    *,
    batch_size: int = 1024,
    num_classes: int | None = None,
    loss: LossFn | None = None,
    metrics: Mapping[str, LossFn] | None = None,
) -> dict:
    """Loss, accuracy, top-5, per-class accuracy and confusion over every example once.

    Compiles once per (model, data shapes, batch size, loss, metrics): a second call with
    the same ones compiles nothing.

    Args:
      model: a Linen or NNX module or a `Model`; variables: ``{"params", other collections}``.
      dataset: a `Dataset`; batch_size: examples per batch (rounded up to the device count).
      num_classes: rows/columns of the confusion matrix; None = the logits' last axis.
      loss, metrics: as in `fit` (None = cross-entropy, no extra metrics).

    Returns:
      dict: loss, accuracy, top5 (floats), count, per_class (list), confusion (list of lists),
      and one float per metric.

    Raises:
      TypeError: dataset is not a Dataset, or model is of no supported kind. ValueError:
        batch_size < 1, or a `Dataset.from_arrays` / `Dataset.streaming` label outside
        ``[0, C)``.
    """
    _check_eval_args(dataset, batch_size, "evaluate")
    adapted = as_model(model, "evaluate")
    _validate.check_model_fits(adapted, variables, {"dataset": dataset}, num_classes, "evaluate")
    _check_labels(adapted, variables, {"dataset": dataset}, "evaluate")
    nc = num_classes or _num_classes(adapted, variables, dataset)
    pairs = _metric_pairs(metrics, "evaluate")
    return _evaluate(adapted, variables, dataset, batch_size, data_mesh(), nc, loss, pairs)


def predict(model: Any, variables: dict, dataset: Dataset, *, batch_size: int = 1024) -> np.ndarray:
    """Logits of every example in order: ``(size, C)`` or ``(size, L, C)`` as NumPy.

    Compiles once per (model, data shapes, batch size); repeat calls compile nothing.

    Raises:
      TypeError: dataset is not a Dataset, or model is of no supported kind. ValueError:
        batch_size < 1, or the model cannot be applied to the data with ``variables`` (those
        of another model, or examples of another input shape).
    """
    _check_eval_args(dataset, batch_size, "predict")
    adapted = as_model(model, "predict")
    _validate.check_applies(adapted, variables, dataset, "predict")
    mesh = data_mesh()
    b = _eval_batch(batch_size, dataset.size, mesh)
    idx, valid = eval_index_matrix(dataset.size, b)
    run = _eval_program(adapted, dataset.take, mesh, None, True, None, (), "default")
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


def init_variables(model: Any, dataset: Dataset, seed: int) -> dict:
    """The model's initial variables for one example of ``dataset``; key from ``seed``.

    Linen: ``model.init`` with keys ``split(key(seed))`` for params and dropout; NNX: the
    module's own current parameters (the key is unused); `Model`: ``init(key(seed), x)``.
    """
    return _init(as_model(model, "init_variables"), dataset, seed)


def _init(model: Adapted, dataset: Dataset, seed: int) -> dict:
    arrays = (
        gather_rows(dataset.arrays, np.zeros(1, np.int32)) if dataset.streamed else dataset.arrays
    )
    batch = dataset.take(arrays, jnp.zeros((1,), jnp.int32))
    key = jax.random.key(seed)
    if model.kind == "nnx":  # returns the module's own parameters: nothing to compute
        return model.init(key, batch["x"])
    try:
        return _init_program(model)(key, batch["x"])
    except jax.errors.ConcretizationTypeError:  # an init that reads values in Python
        return model.init(key, batch["x"])


@functools.lru_cache(maxsize=64)
def _init_program(model: Adapted) -> Callable:
    """``model.init`` compiled as one program, cached per model as `_eval_program` is.

    Run eagerly, every initialiser and every layer's forward op is its own small XLA compile
    (about 50 for a 3-layer MLP: seconds before step one in a fresh process).
    """
    return jax.jit(model.init)


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


def _compile(plan: _Plan, b: int, state, arrays, idx, active) -> tuple[Callable, str]:
    """Bucket ``b``'s compiled call ``(state, arrays, idx (S, B), active (S,)) -> (state, out)``
    and the XLA option set (`jaxcnn._cpu.xla_options`) it was compiled with.

    Ahead-of-time: the compile time is measured on its own, never inside a training call.
    The whole chunk is one ``lax.scan`` (its step's convolutions canonicalised, so that XLA
    CPU runs them fast in the loop: `jaxcnn.train.canonical`). An earlier `fit` of the same
    program in this process (`programs.train_program_key`) lends its jitted function, so
    nothing is compiled again.

    Warns:
      UserWarning: a convolution inside the loop is still in a layout XLA CPU runs on its
        slow path (`loop_hurts_convolutions`): the results are right, the steps slower.
    """
    mesh = plan.mesh
    repl = replicated(mesh)
    # The data arrays keep their own sharding: replicated, or split over the processes that
    # each fed their own rows (`streaming.call_inputs`).
    ins = (repl, jax.tree.map(lambda a: a.sharding, arrays), repl, repl)
    key = programs.train_program_key(
        model=plan.model,
        config=plan.config,
        total_steps=_total_steps(plan.config, plan.steps),
        params=state.params,
        custom_optimizer=plan.custom_optimizer,
        parts=(
            plan.buckets[b].take,
            mesh,
            plan.eval_loss,
            plan.metrics,
            _padded(plan, b),
            _flat(ins),
        ),
    )

    # The XLA CPU option set, measured where the tuner measures, else XLA's defaults. The plan
    # traces a function of its own: jax would reuse its trace, tuned for XLA's defaults, for
    # the program compiled below.
    def trace_plan():
        return jax.eval_shape(_train_chunk_fn(plan, b), state, arrays, idx, active)

    variant = programs.variant(key, lambda: xla_options.choose(trace_plan))
    jitted = programs.jitted(
        None if key is None else (key, variant),
        lambda: jax.jit(
            _train_chunk_fn(plan, b),
            in_shardings=ins,
            out_shardings=repl,
            donate_argnums=(0,),
            compiler_options=xla_options.options(variant) or None,
        ),
    )
    with xla_options.compiled_with(variant):  # the tuner picks lowerings for these options
        traced = jitted.trace(state, arrays, idx, active)
        lowered = traced.lower()
    if loop_hurts_convolutions(lowered, mesh):
        warnings.warn(
            "fit: a convolution of this model's training step stays in a layout that XLA CPU "
            "runs on its slow path inside a loop (jaxcnn.train.canonical could not rewrite it); "
            "training is correct but slower. TrainConfig(steps_per_call=1) runs one step per "
            "call, outside any loop.",
            stacklevel=4,
        )
    # Temporaries in blocks the C library reuses from call to call (`jaxcnn._cpu.heaps`).
    return lowered.compile(heaps.compiler_options(traced.jaxpr) or None), variant


def _flat(tree) -> tuple:
    """A pytree as a hashable ``(leaves, treedef)``."""
    leaves, treedef = jax.tree.flatten(tree)
    return tuple(leaves), treedef


@functools.lru_cache(maxsize=64)
def _eval_program(model, take, mesh, num_classes, with_logits, loss, metrics, variant) -> Callable:
    """The jitted evaluation pass, cached per model and options (jit caches the shapes).

    Equal models (`Adapted` equality) share one program, so `evaluate` / `predict` calls do not
    compile again. Compiled with XLA option set ``variant`` (`jit_for_variant`).
    """
    return jit_for_variant(
        make_eval_pass(
            model,
            take,
            mesh,
            num_classes=num_classes,
            with_logits=with_logits,
            loss=loss,
            metrics=metrics,
        ),
        variant,
        out_shardings=replicated(mesh),  # every process can read the sums / logits
    )


def _evaluate(
    model, variables, dataset, batch_size, mesh, num_classes, loss, metrics, variant="default"
) -> dict:
    """Summed metrics over every example of ``dataset``, as means (`summarize`); compiled with
    XLA option set ``variant`` (`fit` passes its training program's)."""
    b = _eval_batch(batch_size, dataset.size, mesh)
    repl = replicated(mesh)
    run = _eval_program(model, dataset.take, mesh, num_classes, False, loss, metrics, variant)
    arrays = device_arrays(dataset, repl)
    idx, valid = eval_index_matrix(dataset.size, b)
    sums = None
    for a, i, v in eval_calls(dataset, arrays, idx, valid, repl):
        part = jax.device_get(run(variables, a, i, v))
        sums = part if sums is None else jax.tree.map(np.add, sums, part)
    assert sums is not None  # eval_index_matrix yields at least one call
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
    out = jax.eval_shape(
        lambda v, x: model.apply(v, x, False, jax.random.key(0))[0], variables, batch["x"]
    )
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


def _zero_sums(metrics: tuple) -> dict:
    return {k: 0.0 for k in ("loss", "weight", "correct", *(n for n, _ in metrics))}


def _metric_pairs(metrics: Mapping[str, LossFn] | None, fn: str) -> tuple:
    """``metrics`` as sorted ``(name, fn)`` pairs (hashable, for the compiled-pass cache).

    Raises:
      ValueError: a name of a built-in sum, or a value that is not callable.
    """
    pairs = tuple(sorted((metrics or {}).items()))
    for name, f in pairs:
        if name in BUILTIN or name in ("accuracy", "count", "per_class") or not callable(f):
            raise ValueError(f"{fn}: metrics must map new names to callables, got {name!r}: {f!r}")
    return pairs


def _qualname(f: Any) -> str:
    return f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', type(f).__name__)}"


def _record(config: TrainConfig, optimizer, loss, metrics: tuple) -> dict:
    """What provenance compares: the config, plus the fit arguments given instead of it.

    An optax transform cannot be compared across runs (its functions are closures), so only
    the fact that one was given is recorded; a loss and metrics by their qualified names.
    """
    record = config.to_dict()
    if record["compute_dtype"] == "float32":  # the default: equal to runs from before the field
        del record["compute_dtype"]
    if optimizer is not None:
        record["fit.optimizer"] = "an optax.GradientTransformation"
    if loss is not None:
        record["fit.loss"] = _qualname(loss)
    if metrics:
        record["fit.metrics"] = {n: _qualname(f) for n, f in metrics}
    return record


def _results_config(workdir: Path) -> dict | None:
    """The config results.json claims (a run whose checkpoints are gone), or None."""
    import json

    try:
        return json.loads((workdir / "results.json").read_text()).get("config")
    except (OSError, ValueError, AttributeError):
        return None


def _clear_run(workdir: Path) -> None:
    """Delete what `fit` wrote into ``workdir`` (checkpoints, metrics, results), nothing else."""
    shutil.rmtree(workdir / "checkpoints", ignore_errors=True)
    for name in ("metrics.jsonl", "results.json", "curves.png"):
        (workdir / name).unlink(missing_ok=True)


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
        "provenance": results_io.provenance(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
