"""Test-wide settings: strict numerics and a bounded hypothesis budget."""

import os

import jax
from hypothesis import HealthCheck, settings

# Silent rank promotion hides shape bugs: make it an error, as Equinox's tests do.
jax.config.update("jax_numpy_rank_promotion", "raise")

# JAX compiles on first call, so a per-example deadline would only measure XLA.
settings.register_profile(
    "default",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
