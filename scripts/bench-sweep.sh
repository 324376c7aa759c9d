#!/usr/bin/env bash
# gaussian-bench on the cells of the reference table (issue: gaussian-bench), hdf5 backend:
# data 128³ and 256³ × chunks 32³, 64³, 128³, NTEST repetitions, with the threads engine and
# with `mpiexec -n 2 --engine mpi`, run one after the other. Prints the medians next to the
# reference implementation's figures (one process, hdf5 backend, median of 5, inexact near chunk
# faces) and the speed-up over them.
#
# With RUNS > 1 the two engines run RUNS times, alternating (threads, mpi, threads, mpi, …), each
# run in a new store directory, and every figure is the median over the runs of each run's median
# over its NTEST repetitions: on a shared machine one run can be 30 % off the next.
#
# Extra gaussian-bench options go in BENCH_ARGS, e.g. BENCH_ARGS="--spare-files 1024" to let the
# store write new chunk files over those of deleted datasets (off by default, as for users).
#
#   scripts/bench-sweep.sh [NTEST] [WORK_DIR] [RUNS]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
ntest=${1:-5}
work=${2:-$(mktemp -d /tmp/chunkwise-sweep-XXXXXX)}
mkdir -p "$work"
"$repo/scripts/setup.sh"
bench="$repo/target/release/gaussian-bench"
flags=()
if mpiexec --version 2>/dev/null | grep -qiE "open mpi|openrte"; then
  flags=(--oversubscribe --bind-to none)
  if [ "$(id -u)" -eq 0 ]; then flags+=(--allow-run-as-root); fi
fi
runs=${3:-1}
sweep=(--data-sizes 128 256 --chunk-sizes 32 64 128 --ntest "$ntest")
read -r -a extra <<<"${BENCH_ARGS:-}"
sweep+=("${extra[@]}")
for run in $(seq 1 "$runs"); do
  "$bench" --engine threads --store "$work/store-t$run" --out "$work/threads$run" "${sweep[@]}" >"$work/threads$run.txt"
  mpiexec "${flags[@]}" -n 2 "$bench" --engine mpi --store "$work/store-m$run" --out "$work/mpi$run" "${sweep[@]}" >"$work/mpi$run.txt"
done
# Per cell, the median over the runs of each figure (columns: DS CS load 3D 3x1D ... as printed).
# shellcheck source=median-of-runs.sh
source "$(dirname "$0")/median-of-runs.sh"
median_of_runs "$work"/threads[0-9]*.txt >"$work/threads.txt"
median_of_runs "$work"/mpi[0-9]*.txt >"$work/mpi.txt"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); store on $(df -T "$work" | awk 'NR==2{print $2}')"
echo "hdf5 backend, sigma 1.5, $ntest repetitions per run, $runs run(s) per engine alternating; medians (of the runs' medians) in seconds; speed-up = reference / chunkwise"
printf '%4s %4s | %-22s | %-28s | %-28s\n' DS CS "reference load 3D 3x1D" "threads load 3D 3x1D (×)" "mpi -n 2 load 3D 3x1D (×)"
reference="128 32 0.127 0.238 0.628
128 64 0.036 0.089 0.199
128 128 0.016 0.120 0.102
256 32 0.966 2.024 5.103
256 64 0.202 0.710 1.592
256 128 0.088 0.702 1.177"
while read -r ds cs rl r3 r1; do
  t=$(awk -v ds="$ds" -v cs="$cs" '$1==ds && $2==cs {print $3, $4, $5}' "$work/threads.txt")
  m=$(awk -v ds="$ds" -v cs="$cs" '$1==ds && $2==cs {print $3, $4, $5}' "$work/mpi.txt")
  awk -v ds="$ds" -v cs="$cs" -v rl="$rl" -v r3="$r3" -v r1="$r1" -v t="$t" -v m="$m" 'BEGIN {
    split(t, a, " "); split(m, b, " ")
    printf "%4d %4d | %6.3f %6.3f %6.3f   | %6.3f %6.3f %6.3f (%4.1f %4.1f %4.1f) | %6.3f %6.3f %6.3f (%4.1f %4.1f %4.1f)\n",
      ds, cs, rl, r3, r1, a[1], a[2], a[3], rl/a[1], r3/a[2], r1/a[3], b[1], b[2], b[3], rl/b[1], r3/b[2], r1/b[3]
  }'
done <<<"$reference"
echo "exactness (max |3D - 3x1D|, max |3D - in-memory filter|), the largest over every run of both engines:"
cat "$work"/threads[0-9]*.txt "$work"/mpi[0-9]*.txt | awk '$1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ {
    key = $1 "/" $2; keys[key] = 1
    if (!(key in a) || $7 + 0 > a[key] + 0) a[key] = $7
    if ($8 == "-") { if (!(key in b)) b[key] = "-" } else if (!(key in b) || b[key] == "-" || $8 + 0 > b[key] + 0) b[key] = $8
  } END { for (key in keys) print "  " key ": " a[key] ", " b[key] }' | sort -t/ -k1,1n -k2,2n
