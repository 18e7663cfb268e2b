"""`TrainState`: everything a training step reads and writes, as one registered pytree."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TrainState:
    """The training state; a pytree, so it goes through ``jit``, ``device_put`` and checkpoints.

    Attributes:
      step: int32 scalar, steps taken so far.
      params: the trained parameters (a pytree).
      opt_state: the optimiser's state (``tx.init(params)``).
      model_state: every non-parameter collection of the model's variables (e.g.
        ``{"batch_stats": ...}``; ``{}`` for a model without one).
      rng: the run's base PRNG key as raw ``uint32`` key data (``jax.random.key_data``; raw,
        so checkpoints hold plain arrays); step ``s`` uses ``fold_in(wrap_key_data(rng), s)``.
    """

    step: jax.Array
    params: Any
    opt_state: Any
    model_state: dict
    rng: jax.Array

    @property
    def variables(self) -> dict:
        """``{"params": ..., **model_state}``: what the model's ``apply`` takes."""
        return {"params": self.params, **self.model_state}

    def step_key(self) -> jax.Array:
        """This step's PRNG key: ``fold_in(key(seed), step)`` (as before the state had a key)."""
        return jax.random.fold_in(jax.random.wrap_key_data(self.rng), self.step)


def initial_state(variables: dict, tx: Any, seed: int) -> TrainState:
    """Step 0 of a run: ``variables`` split into params and model state, ``tx.init(params)``.

    Raises:
      ValueError: ``variables`` holds no ``"params"`` entry.
    """
    if not isinstance(variables, dict) or "params" not in variables:
        got = sorted(variables) if isinstance(variables, dict) else type(variables).__name__
        raise ValueError(f"fit: variables must be a dict with a 'params' entry, got {got}")
    params = variables["params"]
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=tx.init(params),
        model_state={k: v for k, v in variables.items() if k != "params"},
        rng=jax.random.key_data(jax.random.key(seed)),
    )
