#!/usr/bin/env bash
# Benchmark of the in-memory Gaussian filter (issue: chunkwise-ndimage): gaussian_filter of a
# 256³ f32 array, σ = 1.5, against scipy.ndimage.gaussian_filter on the same machine in the same
# run, and against the memory-bandwidth bound (three passes, each reading and writing the array
# once, timed as three parallel copies of the array). ROUNDS rounds, each running scipy and
# chunkwise one after the other, 3 repetitions each; medians over everything.
#
#   scripts/bench-gaussian.sh [ROUNDS] [N] [SIGMA]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
rounds=${1:-5}
n=${2:-256}
sigma=${3:-1.5}
"$repo/scripts/setup.sh"
python3 -c "import scipy" 2>/dev/null || pip install -q numpy scipy
cargo build -q --release -p chunkwise-ndimage --example gaussian_speed
speed="$repo/target/release/examples/gaussian_speed"
results=$(mktemp)
for _ in $(seq 1 "$rounds"); do
  python3 "$repo/scripts/gaussian_scipy_time.py" "$n" "$sigma" 3 | tr ' ' '\n' >>"$results"
  "$speed" "$n" "$sigma" 3 | tr ' ' '\n' >>"$results"
done
median() { grep "^$1=" "$results" | cut -d= -f2 | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
scipy=$(median scipy_s); ours=$(median filter_s); copy=$(median copy_s); fresh=$(median fresh_copy_s)
scipy_into=$(median scipy_into_s); ours_into=$(median filter_into_s)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); scipy $(python3 -c 'import scipy; print(scipy.__version__)')"
echo "gaussian_filter ${n}³ f32, sigma $sigma, reflect, truncate 4; $rounds rounds × 3 repetitions, medians"
awk -v s="$scipy" -v o="$ours" -v c="$copy" -v f="$fresh" -v si="$scipy_into" -v oi="$ours_into" 'BEGIN {
  printf "returning a new array:\n"
  printf "  scipy.ndimage.gaussian_filter          %8.1f ms\n", s * 1000
  printf "  chunkwise gaussian_filter              %8.1f ms   %.1f× faster than scipy, %.2f× the bound\n", o * 1000, s / o, o / (3 * c)
  printf "into an existing array (scipy output=):\n"
  printf "  scipy.ndimage.gaussian_filter          %8.1f ms\n", si * 1000
  printf "  chunkwise gaussian_filter_into         %8.1f ms   %.1f× faster than scipy, %.2f× the bound\n", oi * 1000, si / oi, oi / (3 * c)
  printf "bandwidth bound (3 parallel copies)      %8.1f ms\n", 3 * c * 1000
  printf "one copy into a new array                %8.1f ms   (the cost of allocating a result)\n", f * 1000
}'
rm -f "$results"
