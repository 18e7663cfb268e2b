#!/usr/bin/env bash
# Regenerates requirements.lock: the newest releases pyproject.toml allows, resolved in a fresh
# virtual environment (Python 3.11, this platform) with every extra scripts/setup.sh installs.
# Run it after changing a dependency, then rerun the tests before committing the new lock.
# Usage: bash scripts/lock.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --upgrade pip
"$tmp/venv/bin/python" -m pip install -q ".[experiments,test,export,tensorboard]"
{
    echo "# The exact set jaxcnn is tested and reproducible with (Python 3.11, Linux x86-64, CPU)."
    echo "# scripts/setup.sh and CI install from it: pip install -c requirements.lock -e '.[experiments,test,export,tensorboard]'."
    echo "# The bit-for-bit promise of README.md holds for these versions; regenerate with"
    echo "# scripts/lock.sh after changing a dependency."
    # --all keeps setuptools (the test extra builds the wheel with it); pip itself stays out.
    "$tmp/venv/bin/python" -m pip freeze --all --exclude pip --exclude jaxcnn
    # The parity and bench extras (setup.sh --parity / --bench) ask for torch>=2.4: hold it at
    # the CPU build the benchmarks' figures were measured with (a newer torch is a CUDA build
    # of several GB, unused here).
    echo "torch==2.13.0"
} >requirements.lock.tmp
mv requirements.lock.tmp requirements.lock
echo "lock: wrote requirements.lock ($(grep -vc '^#' requirements.lock) packages)"
