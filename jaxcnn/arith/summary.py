"""``summary(model, input_shape)``: a per-layer table built with ``jax.eval_shape``.

Nothing is allocated: the model is initialised abstractly (``jax.eval_shape`` of
``model.init``), and ``flax.linen.intercept_methods`` records, in call order, the input and
output shape of every sub-module call. Parameters come from the abstract variables, FLOPs and
receptive fields from the closed forms in :mod:`jaxcnn.arith`, so a model with 10^10
parameters is summarised in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn
from jax.typing import DTypeLike

from jaxcnn.arith.counts import conv_macs, conv_transpose_macs, count_params, dense_macs, flops
from jaxcnn.arith.receptive import Field, Window, receptive_fields
from jaxcnn.arith.sizes import resolve_padding
from jaxcnn.layers import conv as conv_layers
from jaxcnn.layers import misc, pool, residual
from jaxcnn.layers.sequential import takes_train

COLUMNS = ("name", "type", "output_shape", "params", "flops", "receptive_field")


def summary(
    model: nn.Module,
    input_shape: tuple[int, ...] | Any,
    *,
    dtype: DTypeLike = jnp.float32,
    print_fn: Callable[[str], object] | None = print,
    train: bool = False,
) -> list[dict]:
    """Per-layer table: name, type, output shape, parameters, FLOPs, receptive field.

    Args:
      model: a Flax Linen module called as ``model(x)`` or ``model(x, train=...)``.
      input_shape: the full input shape with the batch axis, e.g. ``(1, 28, 28, 1)`` (NHWC) or
        ``(1, 21, 40)``; or a pytree of ``jax.ShapeDtypeStruct`` for non-array inputs. A batch
        of 0 is allowed: the same parameters, 0 FLOPs.
      dtype: the input's dtype when ``input_shape`` is a tuple.
      print_fn: called once with the formatted table; ``None`` prints nothing.
      train: passed to the model when its ``__call__`` takes ``train``.

    Returns:
      One dict per sub-module call in call order (nested modules follow their parent, with
      ``depth`` > 1) with keys ``name`` ("/"-joined scope path), ``type``, ``depth``,
      ``input_shape``, ``output_shape``, ``params`` (trainable scalars under the module),
      ``flops`` (``2 * MACs`` of its convs / dense layers for the whole input batch; see
      :mod:`jaxcnn.arith.counts`), ``receptive_field`` (per-axis size in input pixels for
      the top-level chain, ``"all"`` once a layer mixes every position, ``""`` for nested
      rows, ``"?"`` after a layer of unknown geometry); then a last row ``type="Total"``
      with the model's trainable and non-trainable (``"non_trainable"``) counts and FLOPs.

    Raises:
      TypeError: ``input_shape`` is neither a tuple of ints nor a pytree of
        ``ShapeDtypeStruct``. Errors of the model itself (wrong shapes) propagate.
    """
    if isinstance(input_shape, tuple) and all(isinstance(s, int) for s in input_shape):
        x: Any = jax.ShapeDtypeStruct(input_shape, dtype)
    elif all(
        isinstance(leaf, jax.ShapeDtypeStruct) for leaf in jax.tree_util.tree_leaves(input_shape)
    ):
        x = input_shape
    else:
        raise TypeError(
            f"summary: input_shape must be a tuple of ints or ShapeDtypeStructs, "
            f"got {input_shape!r}"
        )
    records: list[dict] = []

    def interceptor(
        next_fun: Callable[..., Any], args: tuple, kwargs: dict[str, Any], context: Any
    ) -> Any:
        if context.method_name != "__call__" or not context.module.scope.path:
            return next_fun(*args, **kwargs)
        slot = len(records)
        records.append({})  # reserve the slot so parents precede their children
        out = next_fun(*args, **kwargs)
        records[slot] = {
            "module": context.module,
            "path": tuple(context.module.scope.path),
            "in": _shape(args[0] if args else None),
            "out": _shape(out),
        }
        return out

    kwargs: dict[str, Any] = {"train": train} if takes_train(model) else {}

    def init(x: Any) -> Any:
        rngs = {"params": jax.random.key(0), "dropout": jax.random.key(1)}
        with nn.intercept_methods(interceptor):
            return model.init(rngs, x, **kwargs)

    variables = jax.eval_shape(init, x)
    params = variables.get("params", {})
    rows = []
    for rec in records:
        own = _macs(rec["module"], rec["in"], rec["out"])
        rows.append(
            {
                "name": "/".join(rec["path"]),
                "type": type(rec["module"]).__name__,
                "depth": len(rec["path"]),
                "input_shape": rec["in"],
                "output_shape": rec["out"],
                "params": count_params(_subtree(params, rec["path"])),
                "flops": flops(own),
                "_own": own,
                "receptive_field": "",
            }
        )
    for row in rows:  # a parent's FLOPs are its children's
        inner = [r["_own"] for r in rows if r["name"].startswith(row["name"] + "/")]
        row["flops"] = flops(row.pop("_own") + sum(inner)) if inner else row["flops"]
    for r in rows:
        r.pop("_own", None)
    _fill_receptive(rows, records, x)
    non_trainable = count_params({k: v for k, v in variables.items() if k != "params"})
    total = {
        "name": "total",
        "type": "Total",
        "depth": 0,
        "input_shape": None,
        "output_shape": None,
        "params": count_params(params),
        "non_trainable": non_trainable,
        "flops": sum(r["flops"] for r in rows if r["depth"] == 1),
        "receptive_field": "",
    }
    rows.append(total)
    if print_fn is not None:
        print_fn(format_table(rows))
    return rows


def format_table(rows: list[dict]) -> str:
    """Plain-text table of :func:`summary` rows (nested names indented), totals last."""
    head = ["layer", "type", "output shape", "params", "FLOPs", "receptive field"]
    body = []
    for r in rows:
        name = "  " * max(r["depth"] - 1, 0) + r["name"]
        shape = "" if r["output_shape"] is None else str(r["output_shape"])
        extra = f" (+{r['non_trainable']:,} state)" if r.get("non_trainable") else ""
        body.append(
            [
                name,
                r["type"],
                shape,
                f"{r['params']:,}{extra}",
                f"{r['flops']:,}",
                str(r["receptive_field"]),
            ]
        )
    widths = [max(len(c) for c in col) for col in zip(head, *body, strict=True)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    rule = "-" * len(line(head))
    return "\n".join([line(head), rule, *(line(b) for b in body[:-1]), rule, line(body[-1])])


def _shape(v: object) -> tuple[int, ...] | None:
    shape = getattr(v, "shape", None)
    return None if shape is None else tuple(int(s) for s in shape)


def _subtree(params: Any, path: Sequence[str]) -> Any:
    node = params
    for name in path:
        if not isinstance(node, dict) or name not in node:
            return {}
        node = node[name]
    return node


def _macs(
    module: nn.Module, in_shape: tuple[int, ...] | None, out_shape: tuple[int, ...] | None
) -> int:
    """Multiply-accumulates of a leaf conv / dense call (0 for everything else)."""
    if in_shape is None or out_shape is None:
        return 0
    if isinstance(module, conv_layers._Conv):
        k = _tuple(module.kernel_size, module.ndim)
        return conv_macs(
            out_shape[1:-1], k, in_shape[-1], out_shape[-1], module.groups, batch=out_shape[0]
        )
    if isinstance(module, conv_layers._ConvTranspose):
        k = _tuple(module.kernel_size, module.ndim)
        return conv_transpose_macs(
            in_shape[1:-1], k, in_shape[-1], out_shape[-1], module.groups, batch=in_shape[0]
        )
    if isinstance(module, misc.Dense | nn.Dense):
        return dense_macs(in_shape[-1], out_shape[-1], positions=math.prod(in_shape[:-1]))
    if isinstance(module, nn.Conv):
        groups = module.feature_group_count
        k = _tuple(module.kernel_size, len(out_shape) - 2)
        return conv_macs(
            out_shape[1:-1], k, in_shape[-1], out_shape[-1], groups, batch=out_shape[0]
        )
    return 0


def _tuple(v: int | Sequence[int], n: int) -> tuple[int, ...]:
    return (v,) * n if isinstance(v, int) else tuple(v)


def _windows(module: nn.Module, in_shape: tuple[int, ...]) -> list[Window] | None:
    """The module's conv / pool windows along the chain, [] if position-wise, None if unknown."""
    n = len(in_shape) - 2
    if isinstance(module, conv_layers._Conv):
        k, s, d = (_tuple(v, n) for v in (module.kernel_size, module.stride, module.dilation))
        return [_window(k, s, d, module.padding, in_shape)]
    if isinstance(module, pool.MaxPool | pool.AvgPool):
        k = _tuple(module.window, n)
        s = k if module.stride is None else _tuple(module.stride, n)
        return [_window(k, s, (1,) * n, module.padding, in_shape)]
    if isinstance(module, residual._Residual):
        rk, st = module.kernel_size, module.stride  # ints (rk odd)
        return [Window(rk, st, 1, rk // 2), Window(rk, 1, 1, rk // 2)]
    return None


def _window(
    k: Sequence[int], s: Sequence[int], d: Sequence[int], padding: Any, in_shape: tuple[int, ...]
) -> Window:
    n = len(k)
    if isinstance(padding, str) or isinstance(padding, int):
        per = [padding] * n
    else:
        per = list(padding)
    pads = tuple(
        resolve_padding(p, size, kk, ss, dd, "summary")
        for p, size, kk, ss, dd in zip(per, in_shape[1:-1], k, s, d, strict=True)
    )
    return Window(tuple(k), tuple(s), tuple(d), pads)


def _fill_receptive(rows: list[dict], records: list[dict], x: Any) -> None:
    """Receptive field along the top-level chain (rows of depth 1), in call order."""
    if not isinstance(x, jax.ShapeDtypeStruct) or x.ndim not in (3, 4):
        return
    n = x.ndim - 2
    chain: list[Window] = []
    state = "field"  # "field" | "all" | "?"
    for row, rec in zip(rows, records, strict=True):
        if row["depth"] != 1:
            continue
        i, o = rec["in"], rec["out"]
        if state == "field" and i is not None and o is not None:
            w = _windows(rec["module"], i) if len(i) == n + 2 else None
            if w is not None:
                chain.extend(w)
            elif isinstance(rec["module"], misc.Flatten | pool.GlobalAvgPool | pool.GlobalMaxPool):
                state = "all"
            elif i != o:  # unknown geometry: a shape-preserving layer is taken as position-wise
                state = "?"
        if state == "field":
            field: Field | None = receptive_fields(chain, n)[-1] if chain else None
            row["receptive_field"] = (
                "x".join(map(str, field.size)) if field else "1" if n == 1 else "1x1"
            )
        else:
            row["receptive_field"] = state
