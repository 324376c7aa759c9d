#!/usr/bin/env bash
# Benchmark of the memory budget (issue: configuration and memory budget): peak resident memory
# and time of `gaussian-bench --data-sizes 512 --chunk-sizes 64` (512³ f32 = 512 MiB of data)
# with `max_memory: 256MiB, memory_usage: 1` against the same run without a budget (the
# defaults: 0.9 × the machine's memory). The two runs alternate REPS times; medians are printed.
# Peak RSS is the child's ru_maxrss (os.wait4), so it is this one process's high-water mark.
#
#   scripts/bench-memory.sh [REPS] [NTEST] [WORK_DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
reps=${1:-3}
ntest=${2:-3}
work=${3:-$(mktemp -d /tmp/chunkwise-bench-memory-XXXXXX)}
"$repo/scripts/setup.sh"
bin="$repo/target/release/gaussian-bench"
mkdir -p "$work"
printf 'resources:\n  max_memory: 256MiB\n  memory_usage: 1\n' >"$work/budget.yaml"
printf '' >"$work/unlimited.yaml"

results="$work/results.txt"
: >"$results"
for rep in $(seq 1 "$reps"); do
  for name in budget unlimited; do
    rm -rf "$work/store" "$work/out"
    python3 - "$name" "$results" "$bin" --config "$work/$name.yaml" --store "$work/store" \
      --out "$work/out" --data-sizes 512 --chunk-sizes 64 --ntest "$ntest" <<'PY'
import os, subprocess, sys, time
name, results, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
start = time.monotonic()
child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
out = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
seconds = time.monotonic() - start
if status != 0:
    sys.exit(f"{name}: gaussian-bench failed with status {status}\n{out}")
row = next(l.split() for l in out.splitlines() if l.split()[:2] == ["512", "64"])
load, conv3d, conv1d = row[2], row[3], row[4]
with open(results, "a") as f:
    f.write(f"{name} {usage.ru_maxrss * 1024} {seconds:.2f} {load} {conv3d} {conv1d}\n")
print(f"{name}: peak {usage.ru_maxrss / 1024:.0f} MiB, {seconds:.1f} s total, "
      f"median load {load} s, 3D {conv3d} s, 3x1D {conv1d} s")
PY
  done
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print("\n| run | peak RSS MiB (median) | total s | load s | 3D s | 3×1D s |")
print("|---|---|---|---|---|---|")
for name in ("budget", "unlimited"):
    mine = [r for r in rows if r[0] == name]
    med = lambda i: statistics.median(float(r[i]) for r in mine)
    print(f"| {name} | {med(1) / 2**20:.0f} | {med(2):.1f} | {med(3):.3f} | {med(4):.3f} | {med(5):.3f} |")
PY
