#!/usr/bin/env bash
# gaussian-bench on the cells of the reference table (issue: gaussian-bench), hdf5 backend:
# data 128³ and 256³ × chunks 32³, 64³, 128³, NTEST repetitions, with the threads engine and
# with `mpiexec -n 2 --engine mpi`, run one after the other. Prints the medians next to the
# reference implementation's figures (one process, hdf5 backend, median of 5, inexact near chunk
# faces) and the speed-up over them.
#
#   scripts/bench-sweep.sh [NTEST] [WORK_DIR]
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
sweep=(--data-sizes 128 256 --chunk-sizes 32 64 128 --ntest "$ntest")
"$bench" --engine threads --store "$work/store" --out "$work/threads" "${sweep[@]}" >"$work/threads.txt"
mpiexec "${flags[@]}" -n 2 "$bench" --engine mpi --store "$work/store" --out "$work/mpi" "${sweep[@]}" >"$work/mpi.txt"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); store on $(df -T "$work" | awk 'NR==2{print $2}')"
echo "hdf5 backend, sigma 1.5, $ntest repetitions, medians in seconds; speed-up = reference / chunkwise"
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
echo "exactness (max |3D - 3x1D|, max |3D - in-memory filter|), threads run:"
awk '$1 ~ /^[0-9]+$/ {print "  " $1 "/" $2 ": " $7 ", " $8}' "$work/threads.txt"
