#!/usr/bin/env bash
# Runs the commands of docs/guide.md — every ```sh block, in order, in one shell that stops at
# the first failure — in a new directory, with the release build on PATH, the Python of
# scripts/python-env.sh (h5py, numpy) as python3, and a local SLURM (scripts/slurm-local.sh)
# for the SLURM section. The ```text blocks (setting up) are what scripts/test.sh has done.
#
#   scripts/test-guide.sh            (needs a release build: scripts/setup.sh)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
guide=$repo/docs/guide.md
work=$(mktemp -d /tmp/chunkwise-guide-XXXXXX)
slurm_dir=$(mktemp -d /tmp/chunkwise-guide-slurm-XXXXXX)
cleanup() {
  "$repo/scripts/slurm-local.sh" stop "$slurm_dir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "test-guide: FAILED: $*" >&2; exit 1; }

[[ -x $repo/target/release/chunkwise ]] || fail "no target/release/chunkwise; run scripts/setup.sh first"
python=$("$repo/scripts/python-env.sh")
if ! eval "$("$repo/scripts/slurm-local.sh" start "$slurm_dir")"; then
  fail "SLURM could not be started for the guide's SLURM section"
fi

# The ```sh blocks, in order.
awk '/^```sh$/ {on=1; next} /^```$/ {on=0; next} on' "$guide" >"$work/guide.sh"
blocks=$(grep -c '^```sh$' "$guide")
[[ $blocks -ge 6 ]] || fail "docs/guide.md has $blocks sh blocks; expected the whole session"

cd "$work"
export PATH=$(dirname "$python"):$repo/target/release:$PATH CHUNKWISE_REPO=$repo
# Open MPI as root (CI, containers), as the guide says.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
unset CHUNKWISE_CONFIG CHUNKWISE_STORE__LOCATION
if ! bash -euo pipefail -x "$work/guide.sh" >"$work/out.log" 2>&1; then
  tail -n 30 "$work/out.log" >&2
  fail "a command of docs/guide.md failed (above)"
fi
# What the session must have shown.
for expected in "chunk grid:  (3, 4, 5)" '"name": "smooth"' "smooth_mpi" "the same to the bit"; do
  grep -qF "$expected" "$work/out.log" || { tail -n 30 "$work/out.log" >&2; fail "the session did not show $expected"; }
done
[[ $(grep -cx "the same to the bit" "$work/out.log") == 2 ]] || fail "MPI and SLURM results were not both the same to the bit"
echo "test-guide: passed ($blocks blocks of docs/guide.md)"
