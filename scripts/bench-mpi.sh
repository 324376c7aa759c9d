#!/usr/bin/env bash
# Benchmark of the MPI engine (issue: MPI engine crate): load and apply on a 256³ f32 dataset in
# 64³ chunks on the hdf5 backend, with `mpiexec -n 1` and `-n 2`, against the threads engine in
# the same run. Each configuration runs REPS times, interleaved; the medians are printed in GB/s
# (dataset bytes / seconds; apply reads and writes every byte once).
#
#   scripts/bench-mpi.sh [REPS] [STORE_DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
reps=${1:-5}
store=${2:-$(mktemp -d /tmp/chunkwise-bench-XXXXXX)}
"$repo/scripts/setup.sh"
bin="$repo/target/release/chunkwise"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none
demo=(demo --shape 256,256,256 --chunks 64,64,64)

declare -A configs=(
  ["threads"]="$bin --store $store --engine threads ${demo[*]}"
  ["mpi -n 1"]="mpiexec -n 1 $bin --store $store --engine mpi ${demo[*]}"
  ["mpi -n 2"]="mpiexec -n 2 $bin --store $store --engine mpi ${demo[*]}"
)
order=("threads" "mpi -n 1" "mpi -n 2")
results=$(mktemp)
for rep in $(seq 1 "$reps"); do
  for name in "${order[@]}"; do
    out=$(${configs[$name]})
    load=$(grep -oP '^load .*: \K[0-9.]+(?= GB/s)' <<<"$out")
    apply=$(grep -oP '^apply .*: \K[0-9.]+(?= GB/s)' <<<"$out")
    ranks_threads=$(grep -oP '^demo: \w+ engine, \K.*(?=, hdf5)' <<<"$out")
    echo "$name|$load|$apply|$ranks_threads" >>"$results"
  done
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), store on $(df -T "$store" | awk 'NR==2{print $2}')"
echo "dataset: 256³ f32 (67 MB) in 64³ chunks, hdf5 backend; $reps repetitions, medians"
printf '%-10s %-22s %10s %10s\n' engine "ranks × threads" "load GB/s" "apply GB/s"
for name in "${order[@]}"; do
  grep "^$name|" "$results" | awk -F'|' -v name="$name" '
    { load[NR]=$2; apply[NR]=$3; rt=$4 }
    function median(a, n,   i, j, t) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END { printf "%-10s %-22s %10.3f %10.3f\n", name, rt, median(load, NR), median(apply, NR) }'
done
rm -f "$results"
