"""The compiled functions: a chunk of training steps and an evaluation pass, each a lax.scan.

Python never runs per step: one call runs ``S`` steps whose batches are gathered on the
device from an ``(S, B)`` index matrix. Padding steps (``active == 0``, used to give the
last chunk of an epoch the same shape as the others) leave the state untouched, so every
bucket compiles exactly once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxcnn.train.adapters import Adapted
from jaxcnn.train.canonical import canonicalize_convolutions, is_canonical_stablehlo
from jaxcnn.train.metrics import LossFn, batch_weight, metric_sums, weighted_values
from jaxcnn.train.parallel import shard_batch
from jaxcnn.train.precision import with_compute_dtype


def make_train_chunk(
    model: Adapted,
    tx: optax.GradientTransformation,
    take: Callable,
    mesh: Any,
    *,
    loss: LossFn,
    metrics: tuple[tuple[str, LossFn], ...] = (),
    padded: bool = True,
    per_step: bool = False,
    compute_dtype: str = "float32",
) -> Callable:
    """A pure function ``(state, arrays, indices (S, B), active (S,)) -> (state, per_step)``.

    ``state`` is a `TrainState`; ``per_step`` holds ``(S,)`` sums ``loss`` (weighted),
    ``weight``, ``correct`` and one per metric, for host-side metrics and the non-finite check.
    Dropout keys are ``fold_in(key(seed), step)`` (`TrainState.step_key`). ``loss`` is
    ``(logits, labels, weight) -> per-element loss``; the step minimises its weighted mean.
    With ``padded=False`` every step is taken as active (whole chunks only).
    ``compute_dtype`` "bfloat16": the forward and backward pass in bfloat16, parameters,
    optimiser state, logits and loss float32 (`precision.with_compute_dtype`).

    With ``per_step=True`` it returns the single step ``(state, arrays, idx (B,)) ->
    (state, sums)`` instead, with no loop around it: the same arithmetic, e.g. to read one
    step's jaxpr.
    """
    names = ("loss", "weight", "correct") + tuple(n for n, _ in metrics)
    apply = with_compute_dtype(model.apply, compute_dtype)

    def loss_fn(params, model_state, batch, key):
        logits, model_state = apply({"params": params, **model_state}, batch["x"], True, key)
        weight = batch_weight(batch)
        values = weighted_values(loss, logits, batch["y"], weight, "loss")
        total = jnp.sum(weight)
        mean = jnp.sum(values * weight) / jnp.maximum(total, jnp.finfo(jnp.float32).tiny)
        return mean, (logits, model_state, weight)

    def one_step(state, batch):
        grads, (logits, model_state, weight) = jax.grad(loss_fn, has_aux=True)(
            state.params, state.model_state, batch, state.step_key()
        )
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        new = dataclasses.replace(
            state,
            params=optax.apply_updates(state.params, updates),
            opt_state=opt_state,
            model_state=model_state,
            step=state.step + 1,
        )
        sums = metric_sums(logits, batch["y"], weight, loss=loss, metrics=metrics)
        return new, {k: sums[k] for k in names}

    if per_step:
        return lambda state, arrays, idx: one_step(state, shard_batch(take(arrays, idx), mesh))

    # In the scan's body XLA CPU runs only canonical convolutions fast (`canonical`), and the
    # gradients' are not: canonicalised here, a chunk of steps is one loop, not S calls.
    loop_step = canonicalize_convolutions(one_step)

    def chunk(state, arrays, indices, active):
        def body(state, xs):
            idx, on = xs
            batch = shard_batch(take(arrays, idx), mesh)
            if not padded:  # no inactive steps in this bucket: skip the cond's overhead
                return loop_step(state, batch)
            zeros = {k: jnp.zeros((), jnp.float32) for k in names}
            return jax.lax.cond(on, loop_step, lambda s, b: (s, zeros), state, batch)

        return jax.lax.scan(body, state, (indices, active))

    return chunk


def make_eval_pass(
    model: Adapted,
    take: Callable,
    mesh: Any,
    *,
    num_classes: int | None = None,
    with_logits: bool = False,
    loss: LossFn | None = None,
    metrics: tuple[tuple[str, LossFn], ...] = (),
) -> Callable:
    """A pure function ``(variables, arrays, indices (S, B), valid (S, B)) -> sums``.

    Padding examples (``valid == 0``) get weight 0, so every example counts exactly once.
    With ``with_logits`` it returns the logits ``(S, B, ..., C)`` instead of the sums.
    ``loss`` (None = cross-entropy) and ``metrics`` as in `make_train_chunk`.
    """

    @canonicalize_convolutions  # a scan body too (see make_train_chunk)
    def apply(variables, batch):
        return model.apply(variables, batch["x"], False, jax.random.key(0))[0]

    def sums_of(variables, batch, ok):
        logits = apply(variables, batch)
        weight = batch_weight(batch)
        ok = ok.reshape(ok.shape + (1,) * (weight.ndim - 1))
        return metric_sums(
            logits, batch["y"], weight * ok, num_classes=num_classes, loss=loss, metrics=metrics
        )

    def chunk(variables, arrays, indices, valid):
        def body(carry, xs):
            idx, ok = xs
            batch = shard_batch(take(arrays, idx), mesh)
            if with_logits:
                return carry, apply(variables, batch)
            return jax.tree.map(jnp.add, carry, sums_of(variables, batch, ok)), None

        if with_logits:
            return jax.lax.scan(body, 0, (indices, valid))[1]
        shapes = jax.eval_shape(lambda: sums_of(variables, take(arrays, indices[0]), valid[0]))
        init = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        return jax.lax.scan(body, init, (indices, valid))[0]

    return chunk


def loop_hurts_convolutions(lowered, mesh) -> bool:
    """Whether the lowered chunk has convolutions that XLA CPU would run slowly in its loop.

    XLA CPU's ``ConvCanonicalization`` pass rewrites a convolution whose dimension order the
    fast (Eigen) kernel cannot take into transposes + a canonical convolution, but it visits
    only the *entry* computation. Inside the while body of ``lax.scan`` the backward
    convolutions (input and kernel gradients, e.g. ``dim_labels=f0b_i0o->0bf``) keep their
    order and fall to the naive loop emitter: measured 10-15x slower for the text KimCNN
    (docs/training.md, "Speed"). :func:`make_train_chunk` canonicalises its step's
    convolutions itself (:mod:`jaxcnn.train.canonical`), so this is ``True`` only if some other
    convolution is left. GPUs (cuDNN) take any order, so only CPU meshes count.
    """
    if any(d.platform != "cpu" for d in mesh.devices.flat):
        return False
    return not is_canonical_stablehlo(lowered.as_text())
