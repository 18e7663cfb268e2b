"""Save a trained model for serving: a `jax.export` artifact with a symbolic batch + its variables.

A saved model is a folder of three files, each written atomically (temp file + ``os.replace``):

- ``model.jaxexport``: ``Exported.serialize()`` of ``(variables, x) -> logits`` (inference mode,
  ``train=False``), the batch axis of ``x`` symbolic (``"b"``), the other axes as in the example;
- ``variables.msgpack``: the variables (`flax.serialization.msgpack_serialize`, no pickle);
- ``export.json``: what was saved (input shape and dtype, platforms), written last.

Loading needs only JAX and Flax, not the model's Python code: `load_exported` returns a
callable ``x (B, ...) -> logits (B, ...)`` for any batch size ``B``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
from flax.core import unfreeze

from jaxcnn import _durable
from jaxcnn.train.adapters import as_model
from jaxcnn.train.processes import barrier, is_writer

ARTIFACT, VARIABLES, MANIFEST = "model.jaxexport", "variables.msgpack", "export.json"


def export(
    model: Any,
    variables: dict,
    example_x: Any,
    path: str | Path,
    *,
    platforms: Sequence[str] | None = None,
) -> Path:
    """Write ``model``'s inference function and ``variables`` to the folder ``path``.

    Args:
      model: a Flax Linen or NNX module or a `jaxcnn.train.Model` (anything `fit` takes).
      variables: ``{"params", other collections...}`` (e.g. ``fit(...).variables``).
      example_x: one input batch ``(B, ...)`` (e.g. NHWC images, NWC frames): only its shape
        after the batch axis and its dtype are used; the batch axis is exported symbolic.
      path: the folder to write (created if missing; the three files in it are replaced).
      platforms: the platforms to lower for (``("cpu", "cuda")``, ...); None = the default
        backend only.

    Returns:
      ``Path(path)``.

    Raises:
      TypeError: model of no supported kind, variables not a dict, example_x not an array.
      ValueError: example_x of rank 0.
    """
    fn = "export"
    adapted = as_model(model, fn)
    if not isinstance(variables, dict):
        raise TypeError(f"{fn}: variables must be a dict, got {type(variables).__name__}")
    if not hasattr(example_x, "shape") or not hasattr(example_x, "dtype"):
        raise TypeError(f"{fn}: example_x must be an array, got {type(example_x).__name__}")
    if len(example_x.shape) < 1:
        raise ValueError(f"{fn}: example_x must have a batch axis, got shape {example_x.shape}")
    # Plain dicts of NumPy arrays: the tree `load_exported` rebuilds from msgpack must be the
    # exported function's input tree exactly (a FrozenDict would differ).
    variables = jax.tree.map(np.asarray, unfreeze(variables))

    def infer(variables, x):
        return adapted.apply(variables, x, False, jax.random.key(0))[0]

    (batch,) = jax.export.symbolic_shape("b")
    x_spec = jax.ShapeDtypeStruct((batch, *example_x.shape[1:]), example_x.dtype)
    v_spec = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), variables)
    targets = None if platforms is None else tuple(platforms)
    exported = jax.export.export(jax.jit(infer), platforms=targets)(v_spec, x_spec)
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write(out / ARTIFACT, bytes(exported.serialize()))
    _atomic_write(out / VARIABLES, flax.serialization.msgpack_serialize(variables))
    manifest = {
        "input_shape": ["batch", *example_x.shape[1:]],
        "input_dtype": str(np.dtype(example_x.dtype)),
        "platforms": list(exported.platforms),
        "format": "jax.export serialized Exported + flax msgpack variables",
    }
    _atomic_write(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    barrier("export")  # another process may load it next
    return out


def load_exported(path: str | Path) -> Callable[[Any], jax.Array]:
    """The model saved by `export` in ``path`` as a callable ``x (B, ...) -> logits``.

    ``x`` must have the exported shape after its batch axis and the exported dtype; any
    ``B >= 1`` works without re-exporting (each new ``B`` compiles once).

    Raises:
      FileNotFoundError: ``path`` lacks one of the files `export` writes.
    """
    folder = Path(path)
    for name in (ARTIFACT, VARIABLES, MANIFEST):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"load_exported: path must hold {name}, missing in {folder}")
    exported = jax.export.deserialize(bytearray((folder / ARTIFACT).read_bytes()))
    variables = flax.serialization.msgpack_restore((folder / VARIABLES).read_bytes())
    variables = jax.tree.map(jnp.asarray, variables)

    def call(x):
        return exported.call(variables, x)

    return call


def _atomic_write(path: Path, data: bytes) -> None:
    if not is_writer():  # many processes: process 0 writes
        return
    _durable.write_bytes(path, data)
