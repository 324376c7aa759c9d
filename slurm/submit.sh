#!/usr/bin/env bash
# Submits a chunkwise sbatch script to run a snapshot: the binaries (gaussian-bench, chunkwise)
# and the configuration file are copied, when submitted, into a directory of the job's own, and
# the job runs those copies. A `cargo build` while the job waits in the queue then changes
# nothing it runs, and every task of an array runs the same build.
#
#   slurm/submit.sh [sbatch options] SCRIPT
#   N=$(target/release/gaussian-bench $SWEEP --list-cells | wc -l)
#   slurm/submit.sh --array=0-$((N - 1)) slurm/sweep-array.sbatch
#   OUT=/scratch/$USER/gb slurm/submit.sh --ntasks=8 slurm/gaussian-bench.sbatch
#
# Environment: CHUNKWISE_BIN, the directory the binaries are copied from [./target/release];
# CHUNKWISE_CONFIG, a configuration file to copy [none]; CHUNKWISE_JOBS, where the snapshot
# directories go, on a file system every node sees [./chunkwise-jobs]. The rest of the
# environment passes to the job as with sbatch (OUT, STORE, SWEEP, …). Prints sbatch's output;
# the snapshot directory is named on stderr.
set -euo pipefail
if [[ $# -lt 1 ]]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
bin=${CHUNKWISE_BIN:-$PWD/target/release}
jobs=${CHUNKWISE_JOBS:-$PWD/chunkwise-jobs}
mkdir -p "$jobs"
snapshot=$(mktemp -d "$jobs/$(date -u +%Y%m%dT%H%M%SZ)-XXXXXX")
copied=0
for program in gaussian-bench chunkwise; do
  if [[ -x $bin/$program ]]; then
    cp -p "$bin/$program" "$snapshot/$program"
    copied=$((copied + 1))
  fi
done
if [[ $copied == 0 ]]; then
  rmdir "$snapshot"
  echo "submit.sh: no gaussian-bench or chunkwise in $bin (CHUNKWISE_BIN); build them first (scripts/setup.sh)" >&2
  exit 2
fi
if [[ -n ${CHUNKWISE_CONFIG:-} ]]; then
  [[ -f $CHUNKWISE_CONFIG ]] || { echo "submit.sh: CHUNKWISE_CONFIG=$CHUNKWISE_CONFIG is not a file" >&2; exit 2; }
  cp -p "$CHUNKWISE_CONFIG" "$snapshot/config.yaml"
  export CHUNKWISE_CONFIG=$snapshot/config.yaml
fi
export CHUNKWISE_BIN=$snapshot CHUNKWISE_SNAPSHOT=$snapshot
echo "submit.sh: the job runs the snapshot in $snapshot" >&2
exec sbatch "$@"
