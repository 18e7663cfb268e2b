"""Transfer learning: parameter paths, freezing by pattern, partial restore, features."""

from __future__ import annotations

import fnmatch
import os

import jax


def path_str(path) -> str:
    """A pytree key path as a "/"-joined string, e.g. ``"Conv_0/kernel"``."""
    parts = []
    for k in path:
        for attr in ("key", "name", "idx"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    return "/".join(parts)


def param_paths(params) -> list[str]:
    """Every leaf's "/"-joined path, in tree order."""
    return [path_str(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]


def trainable_labels(params, patterns, fn: str = "trainable_labels"):
    """Label each leaf "frozen" (its path matches an fnmatch pattern) or "trainable".

    Args:
      params: parameter pytree.
      patterns: fnmatch patterns over "/"-joined paths, e.g. ``("Conv_*/*",)``.

    Returns:
      a pytree of str labels with ``params``' structure (for ``optax.multi_transform``).

    Raises:
      ValueError: a pattern matches no parameter (a typo would silently train everything).
    """
    paths = param_paths(params)
    for pat in patterns:
        if not any(fnmatch.fnmatchcase(p, pat) for p in paths):
            raise ValueError(
                f"{fn}: frozen pattern {pat!r} must match a parameter path, got {paths}"
            )

    def label(path, _):
        s = path_str(path)
        return "frozen" if any(fnmatch.fnmatchcase(s, p) for p in patterns) else "trainable"

    return jax.tree_util.tree_map_with_path(label, params)


def restore_subset(params, source, patterns, fn: str = "restore_subset"):
    """Copy the leaves whose path matches a pattern from ``source`` into ``params``.

    Args:
      params: the target parameter pytree (e.g. a fresh ``model.init(...)["params"]``).
      source: a parameter pytree from another run (e.g. `load_variables(...)["params"]`).
      patterns: fnmatch patterns over "/"-joined paths, e.g. ``("Conv_0/*", "Conv_1/*")``.

    Returns:
      a pytree like ``params`` with the matching leaves taken from ``source``, each cast to the
      dtype of the ``params`` leaf it replaces (as PyTorch's ``load_state_dict`` copies into the
      existing tensor): float16 weights loaded into a float32 model become float32, so the
      model's dtypes never change.

    Raises:
      ValueError: a pattern matches nothing in ``params``, a matching path is missing from
        ``source``, or shapes differ.
    """
    src = dict(zip(param_paths(source), jax.tree.leaves(source), strict=True))
    paths = param_paths(params)
    for pat in patterns:
        if not any(fnmatch.fnmatchcase(p, pat) for p in paths):
            raise ValueError(f"{fn}: pattern {pat!r} must match a parameter path, got {paths}")

    def pick(path, leaf):
        s = path_str(path)
        if not any(fnmatch.fnmatchcase(s, p) for p in patterns):
            return leaf
        if s not in src:
            raise ValueError(f"{fn}: source must have parameter {s!r}, got {sorted(src)}")
        if src[s].shape != leaf.shape:
            raise ValueError(f"{fn}: source {s!r} must have shape {leaf.shape}, got {src[s].shape}")
        return src[s] if src[s].dtype == leaf.dtype else src[s].astype(leaf.dtype)

    return jax.tree_util.tree_map_with_path(pick, params)


def load_variables(workdir: str | os.PathLike) -> dict:
    """``{"params", maybe "batch_stats"}`` from the newest intact checkpoint of a run.

    Args:
      workdir: the other run's ``--workdir`` (its ``checkpoints/`` folder is read).

    Returns:
      nested dicts of arrays, keyed as Flax keys them.

    Raises:
      FileNotFoundError: the run has no intact checkpoint, or no ``checkpoints/`` folder
        (named; nothing is created). The run's files are only read, never cleaned or deleted,
        so a run still training is left intact.
    """
    from pathlib import Path

    from jaxcnn.train.checkpoint import Checkpointer

    folder = Path(workdir) / "checkpoints"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"load_variables: workdir must hold a checkpoint, got {workdir} (no folder {folder})"
        )
    ckpt = Checkpointer(folder, read_only=True)
    found = ckpt.restore_latest_flat()
    if found is None:
        raise FileNotFoundError(f"load_variables: workdir must hold a checkpoint, got {workdir}")
    out: dict = {}
    for path, leaf in found.items():
        if path.startswith("model_state/"):  # a TrainState's collections besides params
            path = path[len("model_state/") :]
        top, *rest = path.split("/")
        if top not in ("params", "batch_stats") or not rest:
            continue
        node = out.setdefault(top, {})
        for key in rest[:-1]:
            node = node.setdefault(key, {})
        node[rest[-1]] = leaf
    return out


def extract_features(model, variables, x, layer: str):
    """The output of the submodule named ``layer`` (e.g. ``"Dense_1"``, ``"block/Conv_0"``).

    Args:
      model: Flax module; variables: its variables; x: a model input batch.
      layer: "/"-joined module path of the layer whose output is wanted.

    Returns:
      that layer's output for ``x`` (e.g. ``(N, H', W', C)`` or ``(N, D)``), in eval mode.

    Raises:
      ValueError: no submodule has that path (the message lists the ones that exist).
    """

    def wanted(mdl, method):
        return method == "__call__" and "/".join(mdl.path) == layer

    _, state = model.apply(
        variables, x, train=False, capture_intermediates=wanted, mutable=["intermediates"]
    )
    node = state.get("intermediates", {})
    for key in layer.split("/"):
        node = node.get(key, {}) if isinstance(node, dict) else {}
    if "__call__" not in node:
        _, everything = model.apply(
            variables, x, train=False, capture_intermediates=True, mutable=["intermediates"]
        )
        names = sorted(
            {p.rsplit("/__call__", 1)[0] for p in param_paths(everything["intermediates"])}
        )
        raise ValueError(f"extract_features: layer must be one of {names}, got {layer!r}")
    return node["__call__"][0]
