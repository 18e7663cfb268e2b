#!/usr/bin/env bash
# Sets up everything jaxcnn needs on a fresh Debian machine: the data sets that ship as
# Debian packages and a virtual environment at .venv. Idempotent, and a no-op (well under a
# second) when everything is already in place. Usage: bash scripts/setup.sh [--bench] [--parity]
# (--parity: PyTorch for the parity tests, as CI runs them).
set -euo pipefail
cd "$(dirname "$0")/.."

# Real data that installs from Debian's registry (see docs/data.md).
need=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
[ -f /usr/share/wordnet/data.noun ] || need+=(wordnet-base)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    echo "setup: installing Debian packages: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

extras="experiments,test,export,tensorboard"
for arg in "$@"; do
    case "$arg" in
        --bench) extras="$extras,bench" ;;
        --parity) extras="$extras,parity" ;;
        *) echo "setup: unknown option $arg (want --bench, --parity)" >&2; exit 2 ;;
    esac
done
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -c 'import sys; assert sys.version_info >= (3, 11), "jaxcnn needs Python >= 3.11"'
    "$python" -m venv .venv
fi
# Reinstall only when the dependency list, the lock or the extras change.
stamp=.venv/.jaxcnn-setup
want="$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16) $extras"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing Python packages into .venv ($extras)"
    .venv/bin/python -m pip install -q --upgrade pip
    # The exact versions of requirements.lock: the set the reproducibility promise holds for.
    .venv/bin/python -m pip install -q -c requirements.lock -e ".[$extras]"
    echo "$want" >"$stamp"
fi
