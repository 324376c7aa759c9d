#!/usr/bin/env bash
# `chunkwise stats` (all moments, no histogram) of a float32 dataset in the page cache, side by
# side and alternating with: a pass that only reads the same chunks through the same machinery
# (examples/read_pass.rs), and numpy's mean + std + min + max of the same data read whole with
# h5py. Whole processes, medians; the data is GIB GiB (default 1) in 64³ chunks of a DosNa store.
#
#   scripts/bench-stats.sh [RUNS] [GIB]      (defaults: 5 1)
set -euo pipefail
runs=${1:-5}
gib=${2:-1}
repo=$(cd "$(dirname "$0")/.." && pwd)
cw=$repo/target/release/chunkwise
pass=$repo/target/release/examples/read_pass
[ -x "$cw" ] && [ -x "$pass" ] || {
  echo "build first: cargo build --release && cargo build --release -p chunkwise-cli --example read_pass" >&2
  exit 1
}
py=$("$repo/scripts/python-env.sh")
# shellcheck source=median-of-runs.sh
. "$repo/scripts/median-of-runs.sh"
work=$(mktemp -d /tmp/chunkwise-bench-stats-XXXXXX)
trap 'rm -rf "$work"' EXIT
planes=$((gib * 1024))

"$py" - "$work/v.h5" "$planes" <<'EOF'
import sys, numpy as np, h5py
path, planes = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
with h5py.File(path, "w") as f:
    d = f.create_dataset("v", (planes, 512, 512), dtype=np.float32)
    for z in range(0, planes, 64):
        d[z:z + 64] = rng.standard_normal((64, 512, 512), dtype=np.float32) * 3 + 100
EOF
"$cw" --store "$work/store" import "$work/v.h5:/v" v --chunks 64,64,64 >/dev/null


cat >"$work/reference_stats.py" <<'EOF'
import sys, h5py
a = h5py.File(sys.argv[1], "r")["v"][...]
print(a.mean(), a.std(), a.min(), a.max())
EOF
# Warm the page cache with every reader once.
"$pass" "$work/store" v >/dev/null
"$cw" --store "$work/store" stats v >/dev/null
"$py" "$work/reference_stats.py" "$work/v.h5" >/dev/null
: >"$work/stats"; : >"$work/pass"; : >"$work/numpy"
for _ in $(seq 1 "$runs"); do
  seconds_of "$cw" --store "$work/store" stats v >>"$work/stats"
  seconds_of "$pass" "$work/store" v >>"$work/pass"
  seconds_of "$py" "$work/reference_stats.py" "$work/v.h5" >>"$work/numpy"
done
bytes=$((planes * 512 * 512 * 4))
s=$(median_of_lines <"$work/stats"); p=$(median_of_lines <"$work/pass"); n=$(median_of_lines <"$work/numpy")
printf '%s GiB float32, 64³ chunks, medians of %d (whole process, seconds)\n' "$gib" "$runs"
printf '%-34s %8.3f s  %6.2f GB/s\n' "chunkwise stats" "$s" "$(echo "$bytes / $s / 1000000000" | bc -l)"
printf '%-34s %8.3f s  %6.2f GB/s\n' "read-only pass (same pipeline)" "$p" "$(echo "$bytes / $p / 1000000000" | bc -l)"
printf '%-34s %8.3f s  %6.2f GB/s\n' "h5py read + numpy mean/std/min/max" "$n" "$(echo "$bytes / $n / 1000000000" | bc -l)"
printf 'stats throughput / read pass: %.2f; numpy time / stats time: %.2f\n' \
  "$(echo "$p / $s" | bc -l)" "$(echo "$n / $s" | bc -l)"
