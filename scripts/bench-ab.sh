#!/usr/bin/env bash
# Two gaussian-bench commands side by side on the same cells: A, B, A, B, … RUNS times, each run
# in a new store, then per cell the median over the runs of each run's medians (load, 3D, 3x1D
# in seconds) and B's time as a fraction of A's. On a shared, noisy machine this is how a change
# is judged: the two versions alternate, so both see the same noise.
#
#   scripts/bench-ab.sh "COMMAND_A" "COMMAND_B" RUNS [gaussian-bench options...]
#
# COMMAND_A/B are run through `bash -c` with the options appended (plus --store and --out), e.g.
#   scripts/bench-ab.sh "/tmp/gaussian-bench-before" "target/release/gaussian-bench" 3 \
#     --data-sizes 128 256 --chunk-sizes 32 64 128 --ntest 7
#   scripts/bench-ab.sh "CHUNKWISE_IO__WRITE_BEHIND=true target/release/gaussian-bench" \
#     "target/release/gaussian-bench" 3 --data-sizes 128 --chunk-sizes 128
#   scripts/bench-ab.sh "mpiexec --allow-run-as-root --oversubscribe --bind-to none -n 2 \
#     /tmp/before --engine mpi" "mpiexec … -n 2 target/release/gaussian-bench --engine mpi" 3 …
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
a=$1
b=$2
runs=$3
shift 3
work=$(mktemp -d /tmp/chunkwise-ab-XXXXXX)
options=$(printf ' %q' "$@")
for run in $(seq 1 "$runs"); do
  for side in a b; do
    command=$a
    if [ "$side" = b ]; then command=$b; fi
    rm -rf "$work/store"
    bash -c "$command$options --store $work/store --out $work/out-$side$run" \
      >"$work/$side$run.txt" 2>"$work/$side$run.err" || {
      echo "run $run of $side failed:" >&2
      cat "$work/$side$run.err" >&2
      exit 1
    }
    # shellcheck disable=SC2016
    printf '%s run %d:%s\n' "$side" "$run" "$(awk '$1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ {printf " %s/%s %s %s %s |", $1, $2, $3, $4, $5}' "$work/$side$run.txt")"
  done
done
# shellcheck source=median-of-runs.sh
source "$(dirname "$0")/median-of-runs.sh"
median_of_runs "$work"/a[0-9]*.txt >"$work/a.txt"
median_of_runs "$work"/b[0-9]*.txt >"$work/b.txt"
echo "A: $a"
echo "B: $b"
echo "options:$options; $runs run(s) each, alternating; medians of the runs' medians, seconds"
printf '%4s %4s | %-26s | %-26s | %s\n' DS CS "A load 3D 3x1D" "B load 3D 3x1D" "B/A load 3D 3x1D"
awk 'NR == FNR { a[$1 " " $2] = $3 " " $4 " " $5; next }
  ($1 " " $2) in a { split(a[$1 " " $2], x, " ")
    printf "%4s %4s | %8.4f %8.4f %8.4f | %8.4f %8.4f %8.4f | %5.2f %5.2f %5.2f\n", $1, $2, x[1], x[2], x[3], $3, $4, $5,
      (x[1] > 0 ? $3 / x[1] : 0), (x[2] > 0 ? $4 / x[2] : 0), (x[3] > 0 ? $5 / x[3] : 0) }' "$work/a.txt" "$work/b.txt"
echo "outputs in $work"
