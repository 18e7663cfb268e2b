"""Test-wide settings: strict numerics and a bounded hypothesis budget."""

import os

import jax
import pytest
from hypothesis import HealthCheck, Phase, settings

from jaxcnn import config

# Silent rank promotion hides shape bugs: make it an error, as Equinox's tests do.
jax.config.update("jax_numpy_rank_promotion", "raise")

# JAX compiles on first call, so a per-example deadline would only measure XLA.
# The default run is derandomized: every run (CI included) draws the same examples, so a red CI
# reproduces locally. "thorough" draws fresh random examples, ten times as many: run it to search
# (it is how the XLA crashes listed in docs/DESIGN.md were found).
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "default", max_examples=30, deadline=None, derandomize=True, suppress_health_check=_QUIET
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, database=None, suppress_health_check=_QUIET
)
# "mutation" (docs/mutation.md): the default examples without shrinking. A mutant fails most
# examples, and shrinking each failure re-runs (and recompiles) the test dozens of times: minutes
# per mutant where the first failure is all mutation testing needs.
settings.register_profile(
    "mutation",
    parent=settings.get_profile("default"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _deterministic_lowerings():
    """Every test runs the CPU convolutions by the fallback rule (no timing, no cache on disk),
    unless it turns the tuner on itself (``with jaxcnn.config.autotune(True)``)."""
    with config.autotune(False):
        yield
