"""Transfer learning: parameter paths, freezing by pattern, partial restore, features."""

from __future__ import annotations

import fnmatch

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
