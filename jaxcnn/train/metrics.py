"""Loss and metric sums computed inside the compiled step (sums, so batches add up exactly)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax


def cross_entropy(logits: jax.Array, labels: jax.Array, label_smoothing: float = 0.0):
    """Softmax cross-entropy on integer labels over the last axis.

    Args:
      logits: float ``(..., C)``.
      labels: int ``(...)`` in ``[0, C)``.
      label_smoothing: probability mass spread uniformly over the C classes.

    Returns:
      per-element loss ``(...)``, float32.
    """
    logits = logits.astype(jnp.float32)
    if label_smoothing == 0.0:
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    target = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), label_smoothing)
    return optax.softmax_cross_entropy(logits, target)


def batch_weight(batch: dict) -> jax.Array:
    """The batch's example (or token) weights: ``batch["weight"]`` or ones like ``y``."""
    y = batch["y"]
    return batch["weight"].astype(jnp.float32) if "weight" in batch else jnp.ones(y.shape)


LossFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
BUILTIN = ("loss", "weight", "correct", "top5", "confusion")


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array, weight: jax.Array) -> jax.Array:
    """The default loss in the ``loss=`` form: `cross_entropy` per element, ``weight`` unused."""
    return cross_entropy(logits, labels)


def smoothed_cross_entropy(label_smoothing: float) -> LossFn:
    """The default training loss: `cross_entropy` with ``label_smoothing`` (0 = plain)."""
    if label_smoothing == 0.0:
        return softmax_cross_entropy
    return lambda logits, labels, weight: cross_entropy(logits, labels, label_smoothing)


def metric_sums(
    logits,
    labels,
    weight,
    *,
    label_smoothing: float = 0.0,
    num_classes: int | None = None,
    loss: LossFn | None = None,
    metrics: tuple[tuple[str, LossFn], ...] = (),
) -> dict:
    """Weighted sums over a batch: loss, weight, correct, top-5 correct (and confusion).

    Args:
      logits: ``(B, C)`` or ``(B, L, C)``; labels/weight: ``(B,)`` or ``(B, L)``.
      num_classes: when given, also a ``(num_classes, num_classes)`` confusion matrix
        (rows = true class, columns = predicted) of summed weights.
      loss: ``(logits, labels, weight) -> per-element loss`` of ``labels``' shape; None =
        cross-entropy with ``label_smoothing``.
      metrics: ``(name, fn)`` pairs, ``fn`` of the same form as ``loss``; each adds the
        weighted sum of its values under ``name``.

    Returns:
      dict of float32 scalars ``loss``, ``weight``, ``correct``, ``top5`` (+ ``confusion``,
      + one per metric).
    """
    loss_fn = loss or smoothed_cross_entropy(label_smoothing)
    values = weighted_values(loss_fn, logits, labels, weight, "loss")
    pred = jnp.argmax(logits, axis=-1)
    k = min(5, logits.shape[-1])
    _, top = jax.lax.top_k(logits, k)
    in_top = jnp.any(top == labels[..., None], axis=-1)
    out = {
        "loss": jnp.sum(values * weight),
        "weight": jnp.sum(weight),
        "correct": jnp.sum(jnp.where(pred == labels, weight, 0.0)),
        "top5": jnp.sum(jnp.where(in_top, weight, 0.0)),
    }
    for name, fn in metrics:
        out[name] = jnp.sum(weighted_values(fn, logits, labels, weight, name) * weight)
    if num_classes is not None:
        true = jax.nn.one_hot(labels.reshape(-1), num_classes) * weight.reshape(-1, 1)
        guess = jax.nn.one_hot(pred.reshape(-1), num_classes)
        out["confusion"] = true.T @ guess
    return out


def weighted_values(fn: LossFn, logits, labels, weight, name: str) -> jax.Array:
    """``fn(logits, labels, weight)`` as float32, checked to have ``labels``' shape.

    Raises:
      ValueError: (at trace time) the values' shape is not ``labels``' shape.
    """
    values = jnp.asarray(fn(logits, labels, weight)).astype(jnp.float32)
    if values.shape != labels.shape:
        raise ValueError(
            f"{name} must return one value per label, shape {labels.shape}, got {values.shape}"
        )
    return values


class NonFiniteEvalWarning(RuntimeWarning):
    """An evaluation loss is NaN or infinite: the model's outputs are not usable."""


def summarize(sums: dict) -> dict:
    """Turn summed metrics into JSON-able means: loss, accuracy, top5, per_class, confusion.

    Warns `NonFiniteEvalWarning` when the loss is not finite (results files then hold null
    with the reason beside it). The confusion matrix holds summed weights: ints when every
    entry is a whole number (unit weights), floats otherwise (fractional weights).
    """
    w = float(sums["weight"])
    safe = max(w, 1e-12)
    out: dict = {  # float values, and lists for per_class / confusion
        "loss": float(sums["loss"]) / safe,
        "accuracy": float(sums["correct"]) / safe,
        "top5": float(sums["top5"]) / safe,
        "count": w,
    }
    for name in sums:
        if name not in BUILTIN:
            out[name] = float(sums[name]) / safe
    if not math.isfinite(out["loss"]):
        warnings.warn(
            f"evaluation loss is {out['loss']} (non-finite logits or parameters); the accuracy "
            f"{out['accuracy']:.4f} beside it is not meaningful",
            NonFiniteEvalWarning,
            stacklevel=3,
        )
    if "confusion" in sums:
        conf = jax.device_get(sums["confusion"])
        rows = conf.sum(axis=1)
        out["per_class"] = [
            float(conf[i, i] / rows[i]) if rows[i] > 0 else None for i in range(conf.shape[0])
        ]
        conf = conf.tolist()
        # summed weights: whole counts stay ints (as before); fractional weights are not rounded
        whole = all(float(v).is_integer() for row in conf for v in row)
        out["confusion"] = [[int(v) if whole else float(v) for v in row] for row in conf]
    return out
