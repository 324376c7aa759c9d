#!/usr/bin/env bash
# Two builds of the pass_timing example side by side: A, B, A, B, … ROUNDS times, each printing
# the median of its repetitions; then per side the median of those medians and every round's.
# For changes to one pass over one dataset (where gaussian-bench's cells mix several passes),
# on a shared machine where one run can be 30 % off the next.
#
#   scripts/pass-ab.sh BIN_A BIN_B ROUNDS N C PASS REPS
#
# BIN_A/B are copies of target/release/examples/pass_timing built from the two versions
# (`cargo build --release --workspace --examples`); N C PASS REPS as pass_timing takes them
# (e.g. `128 128 z 60`); its environment (SPARE_MIB, STORE, MIN_SLAB_BYTES) passes through.
set -euo pipefail
if [ $# -lt 7 ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
a=$1
b=$2
rounds=$3
shift 3
results=$(for _ in $(seq 1 "$rounds"); do
  for side in a b; do
    bin=$a
    if [ "$side" = b ]; then bin=$b; fi
    echo "$side $("$bin" "$@" | sed -nE 's/.*median ([0-9.]+) s.*/\1/p' | head -1)"
  done
done)
for side in a b; do
  values=$(echo "$results" | awk -v s="$side" '$1 == s {print $2}' | sort -g)
  count=$(echo "$values" | wc -l)
  echo "$side median $(echo "$values" | sed -n "$(((count + 1) / 2))p") s; rounds: $(echo $values)"
done
