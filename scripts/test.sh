#!/usr/bin/env bash
# Every test: set up if needed (system packages, release build), then formatting, lints, docs, the
# whole workspace's unit, integration, property and CLI tests, and the SLURM integration test on
# a real single-node SLURM (installed and started by scripts/slurm-local.sh). CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HDF5_DIR=${HDF5_DIR:-/usr/lib/x86_64-linux-gnu/hdf5/openmpi}

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --release --quiet --features gaussian-bench/fault-injection -- -D warnings
# The libraries as a user gets them: without the apps' opt-in features (tuning).
cargo clippy -p chunkwise -p chunkwise-ndimage --lib --release --quiet -- -D warnings
echo "== cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
echo "== the core crate links no storage library (cargo tree -p chunkwise)"
if cargo tree -p chunkwise --prefix none | grep -Ei '^(hdf5|zarrs|object_store|ceph)'; then
  echo "test.sh: FAIL: the core crate depends on a storage library (above)" >&2
  exit 1
fi
echo "== the Python environment of the reference checks (h5py, numpy, scipy: scripts/python-env.sh)"
CHUNKWISE_PYTHON=$(scripts/python-env.sh)
export CHUNKWISE_PYTHON
echo "== cargo test"
# With the fault injection the failure-path tests need (here and in test-slurm.sh, which runs
# the binary this builds); shipped builds (scripts/run.sh, cargo build) have none.
cargo test --workspace --release --quiet --features gaussian-bench/fault-injection
echo "== faults: kills, signals, concurrent writers, a full tmpfs (scripts/test-faults.sh)"
scripts/test-faults.sh 8 dosna
scripts/test-faults.sh 4 zarr
echo "== SLURM: job array, failure, retry, merge (scripts/test-slurm.sh)"
scripts/test-slurm.sh
echo "== the user guide's commands (scripts/test-guide.sh)"
scripts/test-guide.sh
echo "== all tests passed"
