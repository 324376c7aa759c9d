#!/usr/bin/env bash
# chunkwise against zarrs_filter (zarrs_tools) on the same Zarr arrays, side by side: a 3D
# Gaussian (sigma 1.5, truncate 4, so a kernel half size of 6) of a DS³ float32 array for each
# chunk size and codec, whole process, alternating runs; medians, the ratio, and how far each
# output is from scipy.ndimage.gaussian_filter (mode reflect) of the whole array, in the
# interior and at the borders. Then write and read throughput, uncompressed and zstd level 1,
# on the gaussian-bench data.
#
#   scripts/bench-zarr.sh [RUNS] [DS] [CHUNK SIZES...]      (defaults: 5 256 32 64 128)
#
# Needs zarrs_filter (cargo install zarrs_tools@0.8.1 --features filter --root DIR; set
# ZARRS_FILTER=DIR/bin/zarrs_filter) and the Python environment of scripts/python-env.sh.
set -euo pipefail
runs=${1:-5}
ds=${2:-256}
shift $(($# < 2 ? $# : 2))
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(32 64 128)
repo=$(cd "$(dirname "$0")/.." && pwd)
cw=${CHUNKWISE:-$repo/target/release/chunkwise}
zf=${ZARRS_FILTER:-$(command -v zarrs_filter || true)}
[ -x "$cw" ] || { echo "no $cw: cargo build --release first" >&2; exit 1; }
[ -n "$zf" ] && [ -x "$zf" ] || {
  echo "no zarrs_filter: cargo install zarrs_tools@0.8.1 --features filter, or set ZARRS_FILTER" >&2
  exit 1
}
py=$("$repo/scripts/python-env.sh")
# shellcheck source=median-of-runs.sh
. "$repo/scripts/median-of-runs.sh"
work=$(mktemp -d /tmp/chunkwise-bench-zarr-XXXXXX)
trap 'rm -rf "$work"' EXIT

"$py" - "$work/input.h5" "$ds" <<'EOF'
import sys, numpy as np, h5py
path, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
with h5py.File(path, "w") as f:
    f["data"] = rng.random((n, n, n), dtype=np.float32)
EOF



printf '%-6s %-6s %10s %10s %8s   %-24s %-24s\n' codec chunk chunkwise zarrs_filt ratio \
  "chunkwise-scipy in/edge" "zarrs-scipy in/edge"
for codec in none zstd:1; do
  for cs in "${sizes[@]}"; do
    store="$work/store-$cs-${codec%%:*}.zarr"
    "$cw" --store "zarr:$store" --codec "$codec" import "$work/input.h5:/data" input \
      --chunks "$cs,$cs,$cs" >/dev/null
    : >"$work/a"
    : >"$work/b"
    for _ in $(seq 1 "$runs"); do
      rm -rf "$store/out_cw" "$store/out_zf"
      seconds_of "$cw" --store "zarr:$store" filter gaussian input out_cw --sigma 1.5 >>"$work/a"
      seconds_of "$zf" gaussian "$store/input" "$store/out_zf" 1.5,1.5,1.5 6,6,6 >>"$work/b"
    done
    a=$(median_of_lines <"$work/a")
    b=$(median_of_lines <"$work/b")
    errors=$("$py" - "$work/input.h5" "$store" <<'EOF'
import sys, numpy as np, h5py, zarr
from scipy import ndimage
x = h5py.File(sys.argv[1], "r")["data"][...]
want = ndimage.gaussian_filter(x.astype(np.float64), 1.5, mode="reflect", truncate=4.0)
group = zarr.open_group(sys.argv[2], mode="r")
inner = (slice(6, -6),) * 3
out = []
for name in ("out_cw", "out_zf"):
    d = np.abs(group[name][...].astype(np.float64) - want)
    edge = d.copy()
    edge[inner] = 0
    out.append(f"{d[inner].max():.1e}/{edge.max():.1e}")
print(" ".join(out))
EOF
    )
    read -r ea eb <<<"$errors"
    printf '%-6s %-6s %10.3f %10.3f %8.2f   %-24s %-24s\n' "$codec" "$cs" "$a" "$b" \
      "$(echo "$b / $a" | bc -l)" "$ea" "$eb"
  done
done

# Codec throughput on the gaussian-bench data (a 512³ float32 input it made, kept uncompressed),
# whole process with its default threads: write = `copy` of the uncompressed array into a new
# one with the codec (its reads included), read = `copy` of that into the ram store.
gb=${GAUSSIAN_BENCH:-$repo/target/release/gaussian-bench}
big=512
"$gb" --backend zarr --store "zarr:$work/gb.zarr" --out "$work/gb-out" --data-sizes $big \
  --chunk-sizes 64 --ntest 1 --keep >/dev/null
bytes=$((big * big * big * 4))
printf '\n%s³ float32, 64³ chunks, medians of %d\n%-8s %12s %12s %8s\n' $big "$runs" codec \
  "write GB/s" "read GB/s" ratio
for codec in none zstd:1; do
  : >"$work/w"
  : >"$work/r"
  for _ in $(seq 1 "$runs"); do
    rm -rf "$work/c.zarr"
    seconds_of "$cw" --store "zarr:$work/gb.zarr" --codec "$codec" copy "input_$big" v \
      --to-store "zarr:$work/c.zarr" >>"$work/w"
    seconds_of "$cw" --store "zarr:$work/c.zarr" copy v r --to-store ram >>"$work/r"
  done
  stored=$(du -sb "$work/c.zarr/v" | cut -f1)
  printf '%-8s %12.2f %12.2f %8.2f\n' "$codec" \
    "$(echo "$bytes / $(median_of_lines <"$work/w") / 1000000000" | bc -l)" \
    "$(echo "$bytes / $(median_of_lines <"$work/r") / 1000000000" | bc -l)" \
    "$(echo "$bytes / $stored" | bc -l)"
done
