#!/usr/bin/env bash
# The main job: set up if needed, then the 3D Gaussian convolution benchmark on two MPI ranks —
# data 128³ and 256³, chunks 32³, 64³, 128³, 3 repetitions (about a minute here). The store goes
# to ./chunkwise-data; result.h5, the images and the plots to ./gaussian-bench-out (printed at
# the end). Extra arguments go to gaussian-bench (see `gaussian-bench --help`).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
"$repo/scripts/setup.sh"
flags=()
if mpiexec --version 2>/dev/null | grep -qiE "open mpi|openrte"; then
  # More ranks than cores is fine here, and a rank's thread pool must not be pinned to one core.
  flags=(--oversubscribe --bind-to none)
  if [ "$(id -u)" -eq 0 ]; then flags+=(--allow-run-as-root); fi
fi
exec mpiexec "${flags[@]}" -n 2 "$repo/target/release/gaussian-bench" --engine mpi \
  --store ./chunkwise-data --out ./gaussian-bench-out \
  --data-sizes 128 256 --chunk-sizes 32 64 128 --ntest 3 "$@"
