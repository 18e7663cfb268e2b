"""One pure ``(init, apply)`` pair for every kind of model `fit` accepts.

The loop only ever sees an `Adapted` model:

- ``init(key, x) -> variables``: ``{"params": ..., <other collections>...}``;
- ``apply(variables, x, train, key) -> (logits, model_state)``: ``model_state`` is the new value
  of every collection besides ``"params"`` (batch statistics, ...), ``{}`` when there are none.

Three adapters produce it, one per kind of model (`as_model` picks): a Flax Linen module (with or
without a ``train`` argument, any mutable collections), a Flax NNX module (split into a graph
definition and pure dicts of arrays), and `Model`, a pair of pure functions written by hand.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import jax

Variables = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Model:
    """A model as two pure functions (the library's functional style).

    Attributes:
      init: ``init(key, x) -> variables``, ``variables`` a dict holding ``"params"`` (the
        trained pytree) and, optionally, other entries (non-trained state such as batch
        statistics). ``x`` is one example batch ``(1, ...)``, e.g. NHWC images.
      apply: ``apply(variables, x, *, train: bool, key) -> logits`` (``(B, C)`` or
        ``(B, L, C)``), or ``-> (logits, new_state)`` where ``new_state`` is a dict of the new
        values of every non-``"params"`` entry (returned explicitly: nothing is mutated).
        ``key`` is a JAX PRNG key for dropout (a new one each step; ignore it if unused).
    """

    init: Callable[..., Variables]
    apply: Callable[..., Any]


@dataclasses.dataclass(frozen=True, eq=False)
class Adapted:
    """A model in the loop's one form; equal (and hashed) by the model it adapts.

    Equality by the source model lets compiled evaluation passes be cached per model: two equal
    Linen modules share them, an NNX module or a `Model` is its own. ``structure`` is the NNX
    module's graph definition when it was adapted: ``apply`` closes over it, so the same module
    whose layers or static attributes changed since is another model (a cached pass would
    otherwise run the old ones).
    """

    init: Callable[[jax.Array, Any], Variables]
    apply: Callable[[Variables, Any, bool, jax.Array], tuple[Any, dict]]
    kind: str
    source: Any
    structure: Any = None

    def _by_value(self) -> bool:
        # Linen modules are frozen dataclasses, equal field by field; one holding a list (e.g.
        # nn.Sequential's layers) cannot be hashed and is compared by identity instead.
        if self.kind != "linen":
            return False
        try:
            hash(self.source)
        except TypeError:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Adapted) or other.kind != self.kind:
            return False
        if self._by_value() and other._by_value():
            return bool(self.source == other.source)
        return self.source is other.source and self.structure == other.structure

    def __hash__(self) -> int:
        source = self.source if self._by_value() else id(self.source)
        return hash((self.kind, source, self.structure))


def as_model(model: Any, fn: str = "fit") -> Adapted:
    """Adapt ``model`` (Linen module, NNX module, `Model` or `Adapted`) to an `Adapted`.

    Raises:
      TypeError: ``model`` is none of these (the message names what it got).
    """
    import flax.linen as nn
    from flax import nnx

    if isinstance(model, Adapted):
        return model
    if isinstance(model, Model):
        return _from_functions(model)
    if isinstance(model, nn.Module):
        return _from_linen(model)
    if isinstance(model, nnx.Module):
        return _from_nnx(model)
    raise TypeError(
        f"{fn}: model must be a flax.linen Module, a flax.nnx Module or a "
        f"jaxcnn.train.Model(init, apply), got {type(model).__name__}"
    )


def _from_functions(model: Model) -> Adapted:
    def apply(variables, x, train, key):
        out = model.apply(variables, x, train=train, key=key)
        if isinstance(out, tuple):
            logits, new_state = out
            return logits, dict(new_state)
        return out, {k: v for k, v in variables.items() if k != "params"}

    def init(key, x):
        return dict(model.init(key, x))

    return Adapted(init=init, apply=apply, kind="fn", source=model)


def _from_linen(module: Any) -> Adapted:
    """Linen: ``train=`` only if ``__call__`` takes it; every non-params collection mutable.

    Eval mode makes the collections mutable too and drops the updates, so a module whose
    BatchNorm always uses batch statistics (no ``train`` argument) still evaluates.
    """
    has_train = "train" in inspect.signature(module.__call__).parameters
    mode = (lambda train: {"train": train}) if has_train else (lambda train: {})

    def init(key, x):
        init_key, drop_key = jax.random.split(key)
        variables = module.init({"params": init_key, "dropout": drop_key}, x, **mode(False))
        return dict(variables)

    def apply(variables, x, train, key):
        collections = [c for c in variables if c != "params"]
        rngs = {"dropout": key} if train else {}
        if not collections:
            return module.apply(variables, x, rngs=rngs, **mode(train)), {}
        logits, updates = module.apply(variables, x, rngs=rngs, mutable=collections, **mode(train))
        if not train:
            updates = {c: variables[c] for c in collections}
        return logits, dict(updates)

    return Adapted(init=init, apply=apply, kind="linen", source=module)


def _from_nnx(module: Any) -> Adapted:
    """NNX: ``nnx.split`` into params, RNG streams and the rest, each a pure dict of arrays.

    The module keeps its own initialisation (``init`` returns its current parameters and
    ignores the key). Train/eval mode is set with ``Module.train()`` / ``.eval()`` on a copy
    merged inside the traced function; every RNG stream is reseeded from the step's key, so
    dropout depends only on (seed, step) and the streams are not part of the training state
    (their typed keys need no checkpointing).
    """
    from flax import nnx

    graphdef, params, streams, rest = nnx.split(module, nnx.Param, nnx.RngState, ...)  # type: ignore[misc]  # flax's overloads type a 3-filter split as variadic
    tags = sorted({n.tag for _, n in nnx.iter_graph(module) if isinstance(n, nnx.RngStream)})

    def filled(template, pure):
        state = jax.tree.map(lambda a: a, template)  # fresh Variables in the current trace
        nnx.replace_by_pure_dict(state, pure)
        return state

    def init(key, x):
        out = {"params": nnx.to_pure_dict(params)}
        pure_rest = nnx.to_pure_dict(rest)
        if pure_rest:
            out["state"] = pure_rest
        return out

    def apply(variables, x, train, key):
        copy = nnx.merge(
            graphdef,
            filled(params, variables["params"]),
            jax.tree.map(lambda a: a, streams),
            filled(rest, variables.get("state", {})),
        )
        copy.train() if train else copy.eval()
        if tags:
            keys = {t: jax.random.fold_in(key, i) for i, t in enumerate(tags)}
            nnx.reseed(copy, **keys)  # type: ignore[arg-type]  # stream names are keyword arguments
        logits = copy(x)
        _, _, _, new_rest_state = nnx.split(copy, nnx.Param, nnx.RngState, ...)  # type: ignore[misc]
        new_rest = nnx.to_pure_dict(new_rest_state)
        return logits, ({"state": new_rest} if new_rest else {})

    return Adapted(init=init, apply=apply, kind="nnx", source=module, structure=graphdef)
