"""Checks `fit` and `evaluate` run before any compile, so bad input fails with a named error.

Without them a model of the wrong output rank, labels of the wrong shape, an eval set of
another input shape or ``variables`` of another model failed deep inside tracing (a Flax
scope error, a broadcasting error in the loss), and a ``num_classes`` smaller than the labels
silently dropped examples from the confusion matrix.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxcnn.train.data import Dataset, take_rows


def check_model_fits(model, variables, datasets: dict[str, Dataset], num_classes, fn: str) -> None:
    """Raise ValueError unless the model maps every data set's batch to logits for its labels.

    Args:
      model: the loop's adapted model (`jaxcnn.train.adapters.Adapted`):
        ``apply(variables, x, train, key)[0]`` -> logits ``(B, C)`` or ``(B, L, C)``.
      variables: ``{"params", maybe "batch_stats"}``.
      datasets: name an error uses -> `Dataset` (the first is the training set).
      num_classes: the confusion matrix's classes, or None (= the model's C).
      fn: the public function's name, for messages.

    Raises:
      ValueError: applying the model fails (``variables`` of another model, or a data set of
        another input shape: named); the logits are not ``y.shape + (C,)``; or ``num_classes``
        is smaller than a row-wise data set's largest label + 1.
    """
    first = None
    for name, dataset in datasets.items():
        what = (
            _OWN_VARIABLES
            if first is None
            else f"{name} examples must have the input shape of {first[0]}, {first[1]}"
        )
        out, batch, x_shapes = _apply_one_batch(model, variables, dataset, name, what, fn)
        if first is None:
            first = (name, x_shapes)
        y_shape = tuple(batch["y"].shape)
        if not hasattr(out, "shape") or out.ndim not in (2, 3):
            got = getattr(out, "shape", type(out).__name__)
            raise ValueError(
                f"{fn}: the model must return logits (B, C) or (B, L, C), got {got} "
                f"for a batch of {y_shape[0]}"
            )
        if tuple(out.shape[:-1]) != y_shape:
            raise ValueError(
                f"{fn}: {name} labels must have the logits' shape without C, "
                f"{tuple(out.shape[:-1])} (logits {tuple(out.shape)}), got {y_shape}"
                + ("; squeeze the labels to (N,)" if y_shape[1:] == (1,) else "")
            )
        _check_num_classes(num_classes, name, dataset, fn)


def check_applies(model, variables, dataset: Dataset, fn: str) -> None:
    """Raise ValueError unless ``model.apply(variables, x)`` traces for ``dataset``'s examples.

    `predict`'s check (it has no labels to compare the logits with); tracing only, no compile.
    """
    _apply_one_batch(model, variables, dataset, "its", _OWN_VARIABLES, fn)


_OWN_VARIABLES = "variables must be the model's (from its init or a run of the same model)"


def _apply_one_batch(model, variables, dataset: Dataset, name: str, what: str, fn: str):
    """``(logits, batch, x_shapes)`` of one batch of ``dataset``, as shapes (tracing only).

    Raises:
      ValueError: applying the model fails; the message is ``what``, then the ``name`` of the
        examples, their shape and the underlying error.
    """
    batch = jax.eval_shape(dataset.take, dataset.arrays, jnp.zeros((1,), jnp.int32))
    x_shapes = jax.tree.map(lambda a: tuple(a.shape[1:]), batch["x"])
    try:
        out = jax.eval_shape(
            lambda v, x: model.apply(v, x, False, jax.random.key(0))[0], variables, batch["x"]
        )
    except Exception as e:  # noqa: BLE001 - any tracing failure: say which input caused it
        mismatch = _shape_mismatch(model, variables, batch["x"]) if what is _OWN_VARIABLES else None
        if mismatch is not None:
            what = (
                f"{name} examples of shape {x_shapes} do not fit these variables, made for "
                f"inputs of another shape: {mismatch}"
            )
        raise ValueError(
            f"{fn}: {what}; applying the model to {name} examples of shape {x_shapes} "
            f"failed with {type(e).__name__}: {str(e)[:300]}"
        ) from e
    return out, batch, x_shapes


def _shape_mismatch(model, variables, x) -> str | None:
    """The first variable whose shape differs from the model's own init on ``x``, or None.

    None also when the model cannot be initialised on ``x`` or its variables have other names
    (then they are another model's, and the caller's message stands).
    """
    try:
        own = jax.eval_shape(model.init, jax.random.key(0), x)
        have = {jax.tree_util.keystr(p): np.shape(a) for p, a in _leaves(variables)}
    except Exception:  # noqa: BLE001 - no better explanation than the caller's
        return None
    want = {jax.tree_util.keystr(p): tuple(a.shape) for p, a in _leaves(own)}
    if set(want) != set(have):
        return None
    for path, shape in want.items():
        if have[path] != shape:
            return f"{path} has shape {have[path]}; for these examples the model needs {shape}"
    return None


def _leaves(tree) -> list:
    return jax.tree_util.tree_flatten_with_path(tree)[0]


def _check_num_classes(num_classes, name: str, dataset: Dataset, fn: str) -> None:
    if num_classes is None or dataset.take is not take_rows:
        return
    y = dataset.arrays.get("y") if isinstance(dataset.arrays, dict) else None
    if y is None or np.size(y) == 0:
        return
    hi = int(np.max(y))
    if hi >= num_classes:
        raise ValueError(
            f"{fn}: num_classes must be > every label, got {num_classes} for {name} labels "
            f"up to {hi} (the confusion matrix would silently drop those examples)"
        )
