#!/usr/bin/env bash
# Checks the lower bounds in pyproject.toml: builds a fresh virtual environment with every declared
# dependency (the core and the extras audio, corpus, images, plots, experiments, test) at exactly
# its lowest allowed version (and jaxlib at jax's), installs jaxcnn into it (editable, no
# dependencies) and runs a smoke subset of the tests there. Downloads old releases, so it is not
# part of the default suite. Usage (from anywhere):
#   bash scripts/check_lower_bounds.sh [extra pytest arguments]
# VENV=<folder> picks where the environment goes (default: $TMPDIR/jaxcnn-lower-bounds, rebuilt).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
venv=${VENV:-${TMPDIR:-/tmp}/jaxcnn-lower-bounds}

# name==lower for every ">=lower" requirement; anything else is an error, so a new dependency
# cannot slip in without a lower bound this script tests.
pins=$("$python" - <<'EOF'
import re
import tomllib

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
reqs = list(project["dependencies"])
for extra in ("audio", "corpus", "images", "plots", "experiments", "test"):
    reqs += project["optional-dependencies"][extra]
pins = {}
for req in reqs:
    if req.startswith("jaxcnn["):  # the experiments extra names the others
        continue
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^]]*\])?>=([0-9][^,;\s]*)", req)
    if m is None:
        raise SystemExit(f"check_lower_bounds: no plain '>=' lower bound in {req!r}")
    pins[m.group(1).lower()] = m.group(3)
pins["jaxlib"] = pins["jax"]  # jax's own range for jaxlib would pick the newest one it allows
print(" ".join(f"{name}=={version}" for name, version in sorted(pins.items())))
EOF
)

echo "lower bounds: $pins"
rm -rf "$venv"
"$python" -m venv "$venv"
# shellcheck disable=SC2086  # one word per pin
"$venv/bin/python" -m pip install -q $pins
"$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
"$venv/bin/python" -m pip check
"$venv/bin/python" -m pip freeze | grep -iE '^(jax|jaxlib|flax|optax|orbax-checkpoint|numpy|scipy|librosa|matplotlib|scikit-learn|scikit-image)=='

# The smoke subset: the core math, the layers, real fits with checkpoints (and the jaxpr rewrite
# of canonical.py, which uses jax.extend), the audio features,
# the figures, and the wheel (tests/test_packaging.py builds it with these setuptools).
"$venv/bin/python" -m pytest -p no:xdist -q \
    tests/functional/test_pool.py \
    tests/functional/test_dense_dropout_norm.py \
    tests/layers/test_norm_residual.py \
    tests/train/test_fit.py \
    tests/train/test_canonical.py \
    tests/train/test_checkpoint.py \
    tests/train/test_provenance.py \
    tests/train/test_results_provenance.py \
    tests/audio/test_features.py \
    tests/inspect/test_filters_activations.py \
    tests/test_side_effects.py \
    tests/test_packaging.py \
    "$@"
echo "check_lower_bounds: passed at the lowest declared versions"
