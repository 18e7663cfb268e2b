"""Inverted dropout: zero each element with probability ``rate``, scale the rest by 1/(1-rate).

``rate`` is the probability of *dropping* (not stax's keep probability), and the key is an
argument: there is no global RNG, so a call is a pure function of ``(key, x, rate)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxcnn import _checks


def dropout(key, x, rate, deterministic=False) -> jax.Array:
    """Randomly zero elements of ``x`` during training; the identity at inference.

    Each element is kept independently with probability ``1 - rate`` and then divided by
    ``1 - rate``, so ``E[dropout(key, x, rate)] == x`` and nothing has to be rescaled at
    inference.

    Args:
      key: a ``jax.random`` key (typed, ``jax.random.key``, or raw uint32,
        ``jax.random.PRNGKey``). It may be ``None`` only when no randomness is drawn
        (``deterministic`` or ``rate == 0``), so a layer need not split a key at inference.
      x: any shape, floating.
      rate: Python or NumPy real in ``[0, 1)``: the probability of dropping an element.
      deterministic: ``True`` returns ``x`` unchanged (inference).

    Returns:
      An array of ``x``'s shape and dtype.

    Raises:
      TypeError: ``rate`` not a real number, ``deterministic`` not a bool, a non-floating ``x``,
        or a missing / malformed key when one is needed.
      ValueError: ``rate`` outside ``[0, 1)``.
    """
    fn = "dropout"
    if not _checks.is_real(rate):
        raise TypeError(f"{fn}: rate must be a real number in [0, 1), got {type(rate).__name__}")
    if not 0.0 <= rate < 1.0:  # also rejects nan
        raise ValueError(f"{fn}: rate must be in [0, 1), got {rate!r}")
    if not isinstance(deterministic, bool):
        raise TypeError(f"{fn}: deterministic must be a bool, got {type(deterministic).__name__}")
    if getattr(x, "shape", None) is None:
        raise TypeError(f"{fn}: x must be an array, got {type(x).__name__}")
    _checks.floating(x, fn, "x")
    if deterministic or rate == 0:
        return x
    _check_key(key, fn)
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / jnp.asarray(1.0 - rate, x.dtype), jnp.zeros((), x.dtype))


def _check_key(key, fn: str) -> None:
    dtype = getattr(key, "dtype", None)
    if dtype is None:
        raise TypeError(f"{fn}: key must be a jax.random key, got {type(key).__name__}")
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"{fn}: key must be a single key (shape ()), got shape {key.shape}")
        return
    if np.dtype(dtype) != np.uint32 or key.ndim != 1:
        raise TypeError(
            f"{fn}: key must be a jax.random key (or a raw uint32 PRNGKey), "
            f"got {dtype} of shape {tuple(key.shape)}"
        )
