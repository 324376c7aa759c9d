#!/usr/bin/env bash
# The Python environment of the tests that check chunkwise against independent readers and
# references (h5py, numpy, scipy, zarr-python): a venv in target/py, made or completed when missing.
# Prints the interpreter's path. Tests find it there, or at $CHUNKWISE_PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/py
packages=(numpy h5py scipy "zarr>=3")
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p target
  /usr/bin/python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c "import numpy, h5py, scipy, zarr" 2>/dev/null; then
  "$venv/bin/pip" install -q --disable-pip-version-check "${packages[@]}" >&2
fi
echo "$PWD/$venv/bin/python"
