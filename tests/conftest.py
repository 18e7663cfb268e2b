"""Test-wide settings: strict numerics and a bounded hypothesis budget."""

import os
import shutil
import tempfile

import jax
import pytest
from hypothesis import HealthCheck, Phase, settings

from jaxcnn import config

# The compilation cache set up in `pytest_configure` is for child processes only: an xdist
# worker inherits it in its environment, and here turns it off for its own tests.
jax.config.update("jax_compilation_cache_dir", None)

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


_CHILD_CACHE_VARS = {
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
}


def pytest_configure(config):
    """Child processes (kill/resume, multi-process, export tests) share one XLA compilation
    cache for the session: the third run of the same training program in a test then loads
    its executables instead of compiling them again (a child's CPU time 15 s -> 6 s).

    Only the environment the children inherit is set; this process's JAX read its settings at
    import. The xdist workers inherit the controller's folder. A child killed mid-write leaves
    a truncated entry, which JAX reports with a warning and compiles again.
    """
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:  # the caller chose one: keep it
        return
    folder = tempfile.mkdtemp(prefix="jaxcnn-tests-xla-cache-")
    config._jaxcnn_xla_cache = folder
    os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
    for name, value in _CHILD_CACHE_VARS.items():
        os.environ.setdefault(name, value)


def pytest_unconfigure(config):
    folder = getattr(config, "_jaxcnn_xla_cache", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def _deterministic_lowerings():
    """Every test runs the CPU convolutions by the fallback rule (no timing, no cache on disk),
    unless it turns the tuner on itself (``with jaxcnn.config.autotune(True)``)."""
    with config.autotune(False):
        yield
