#!/usr/bin/env bash
# Integration test of the SLURM scripts on a real single-node SLURM (scripts/slurm-local.sh):
#  1. submits slurm/sweep-array.sbatch for a 4-cell sweep, 2 ranks per cell (srun --mpi=pmix),
#     waits, checks `gaussian-bench status`, merges, and checks result.h5;
#  2. reruns cell 2 so that it fails: the job is FAILED, `status` shows the cell failed with its
#     job id and log file;
#  3. resubmits the whole array with CELL_MODE=retry: only cell 2 runs again (the others are
#     skipped and their files untouched), and the merged result.h5 is complete again;
#  4. submits slurm/gaussian-bench.sbatch (one job, whole sweep) and checks its result.h5;
#  5. the same with LAUNCHER=mpiexec;
#  6. submits an array with slurm/submit.sh, held, replaces target/release/gaussian-bench by a
#     failing program ("a rebuild"), releases the array: it runs the snapshot and succeeds, and
#     its cells record the build from before the "rebuild".
# Fails (non-zero) on any difference, and when SLURM cannot be installed or started.
#
#   scripts/test-slurm.sh            (needs a release build: scripts/setup.sh)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="$repo/target/release"
slurm_dir=$(mktemp -d /tmp/chunkwise-slurm-test-XXXXXX)
work=$(mktemp -d /tmp/chunkwise-slurm-work-XXXXXX)

fail() {
  echo "test-slurm: FAILED: $*" >&2
  for log in "$work"/*.out "$slurm_dir"/slurmctld.log "$slurm_dir"/slurmd.log; do
    [[ -f $log ]] && { echo "--- $log" >&2; tail -n 15 "$log" >&2; }
  done
  exit 1
}
cleanup() { "$repo/scripts/slurm-local.sh" stop "$slurm_dir" || true; }
trap cleanup EXIT

[[ -x $bin/gaussian-bench ]] || fail "no $bin/gaussian-bench; run scripts/setup.sh first"
if ! eval "$("$repo/scripts/slurm-local.sh" start "$slurm_dir")"; then
  fail "SLURM could not be installed or started on this machine (see the messages above)"
fi
[[ -n ${SLURM_CONF:-} ]] || fail "slurm-local.sh printed no SLURM_CONF"

export CHUNKWISE_BIN=$bin OUT=$work/out
export SWEEP="--data-sizes 32 48 --chunk-sizes 16 32 --ntest 2"
unset GAUSSIAN_BENCH_FAIL_CELLS CELL_MODE
cd "$work"

# Submits with the given sbatch options and waits until every task has left the queue.
submit_and_wait() {
  local id
  id=$(sbatch --parsable "$@") || fail "sbatch $* refused"
  id=${id%%;*}
  for _ in $(seq 1 600); do
    [[ -z $(timeout 10 squeue -h -j "$id" 2>/dev/null) ]] && { echo "$id"; return 0; }
    sleep 0.5
  done
  fail "job $id still queued or running after 300 s"
}

# JobState of array task $1_$2 from the job completion log.
task_state() {
  grep -E "ArrayJobId=$1 ArrayTaskId=$2 " "$slurm_dir/jobcomp.log" | tail -1 |
    grep -oP 'JobState=\K\S+'
}

# The values of dataset $2 of HDF5 file $1, one per line (its attributes left out); its shape.
values() {
  h5dump -d "$2" -y --noindex -w 0 "$1" | awk '/DATA \{/ && !done {on=1; next} on && /\}/ {on=0; done=1} on' |
    tr ',' '\n' | tr -d ' ' | grep -v '^$'
}
shape_of() {
  h5dump -H -d "$2" "$1" | grep -oP 'DATASPACE\s+SIMPLE \{ \( \K[0-9, ]+' | head -1 | tr -d ' '
}

# result.h5 of $OUT holds /hdf5/2 of shape 2,2,3,2 with every time > 0 and exact verification.
check_result() {
  local file=$OUT/result.h5
  [[ -f $file ]] || fail "no $file"
  [[ $(shape_of "$file" /hdf5/2) == "2,2,3,2" ]] || fail "/hdf5/2 has shape $(shape_of "$file" /hdf5/2)"
  local times zeros
  times=$(values "$file" /hdf5/2)
  [[ $(wc -l <<<"$times") == 24 ]] || fail "/hdf5/2 holds $(wc -l <<<"$times") values, expected 24"
  zeros=$(awk '$1 <= 0' <<<"$times" | wc -l)
  [[ $zeros == 0 ]] || fail "$zeros times of /hdf5/2 are not > 0: $(tr '\n' ' ' <<<"$times")"
  local verify
  verify=$(values "$file" /chunkwise/hdf5/2/verify)
  [[ $(sort -u <<<"$verify") == 0 ]] || fail "verification differences: $(tr '\n' ' ' <<<"$verify")"
}

cells=$("$bin/gaussian-bench" $SWEEP --list-cells | wc -l)
[[ $cells == 4 ]] || fail "--list-cells gave $cells cells, expected 4"

echo "test-slurm: 1. the sweep as a job array of $cells cells, 2 ranks each"
array=$(submit_and_wait --array=0-3 "$repo/slurm/sweep-array.sbatch")
for k in 0 1 2 3; do
  [[ $(task_state "$array" "$k") == COMPLETED ]] || fail "task ${array}_$k: $(task_state "$array" "$k")"
  [[ -f $work/gaussian-bench-${array}_$k.out ]] || fail "no log gaussian-bench-${array}_$k.out"
  grep -q "2 rank(s)" "$work/gaussian-bench-${array}_$k.out" || fail "cell $k did not run on 2 ranks"
done
status=$("$bin/gaussian-bench" status "$OUT")
grep -q "4 done, 0 failed, 0 missing" <<<"$status" || fail "status after the array: $status"
grep -q "${array}_3 .*gaussian-bench-${array}_3.out" <<<"$status" || fail "status lacks job/log: $status"
"$bin/gaussian-bench" merge "$OUT" >/dev/null || fail "merge failed"
check_result

echo "test-slurm: 2. cell 2 fails"
uid2=$(awk -F'\t' '$1 == 2 {print $4}' "$OUT/cells/sweep.txt")
[[ -n $uid2 ]] || fail "cell 2 is not in cells/sweep.txt"
failing=$(GAUSSIAN_BENCH_FAIL_CELLS=2 CELL_MODE=force submit_and_wait --array=2 "$repo/slurm/sweep-array.sbatch")
[[ $(task_state "$failing" 2) == FAILED ]] || fail "the failing task ended $(task_state "$failing" 2)"
[[ -f $OUT/cells/$uid2.failed ]] || fail "no $uid2.failed"
# status exits non-zero while a cell has failed.
if status=$("$bin/gaussian-bench" status "$OUT"); then fail "status exited 0 with a failed cell"; fi
grep -qE "^ +2 +48 +16 +failed +${failing}_2 +$work/gaussian-bench-${failing}_2.out" <<<"$status" ||
  fail "status does not show cell 2 failed in job ${failing}_2 with its log: $status"
grep -q "3 done, 1 failed, 0 missing" <<<"$status" || fail "status after the failure: $status"

echo "test-slurm: 3. retry: only cell 2 runs again"
declare -A before
for f in "$OUT"/cells/*.h5; do before[$f]=$(stat -c %y "$f"); done
sleep 1
retry=$(CELL_MODE=retry submit_and_wait --array=0-3 "$repo/slurm/sweep-array.sbatch")
for k in 0 1 3; do
  grep -q "already done" "$work/gaussian-bench-${retry}_$k.out" || fail "cell $k was not skipped"
done
grep -q "cell 2 done" "$work/gaussian-bench-${retry}_2.out" || fail "cell 2 did not rerun"
for f in "${!before[@]}"; do
  [[ $f == *"$uid2.h5" ]] && continue
  [[ $(stat -c %y "$f") == "${before[$f]}" ]] || fail "$f changed on retry"
done
[[ ! -e $OUT/cells/$uid2.failed ]] || fail "$uid2.failed is still there after a successful retry"
status=$("$bin/gaussian-bench" status "$OUT")
grep -q "4 done, 0 failed, 0 missing" <<<"$status" || fail "status after the retry: $status"
"$bin/gaussian-bench" merge "$OUT" >/dev/null || fail "merge after the retry failed"
check_result

echo "test-slurm: 4. the whole sweep as one job"
export OUT=$work/out-single
single=$(submit_and_wait "$repo/slurm/gaussian-bench.sbatch")
grep -q "JobId=$single .*JobState=COMPLETED" "$slurm_dir/jobcomp.log" || fail "job $single did not complete"
[[ -f $work/gaussian-bench-$single.out ]] || fail "no log gaussian-bench-$single.out"
check_result

echo "test-slurm: 5. the whole sweep as one job launched with mpiexec"
export OUT=$work/out-mpiexec LAUNCHER=mpiexec
# Open MPI refuses root without these (containers, CI).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
viaexec=$(submit_and_wait "$repo/slurm/gaussian-bench.sbatch")
grep -q "JobId=$viaexec .*JobState=COMPLETED" "$slurm_dir/jobcomp.log" || fail "job $viaexec did not complete"
grep -q "2 rank(s)" "$work/gaussian-bench-$viaexec.out" || fail "the mpiexec job did not run 2 ranks"
check_result

echo "test-slurm: 6. a snapshot: a rebuild while an array waits changes nothing it runs"
unset LAUNCHER
export OUT=$work/out-snapshot CHUNKWISE_JOBS=$work/jobs
real_build=$("$bin/gaussian-bench" --version)
held=$("$repo/slurm/submit.sh" --parsable --hold --array=0-1 "$repo/slurm/sweep-array.sbatch") ||
  fail "slurm/submit.sh refused"
held=${held%%;*}
# "Rebuild" while the array is held: the binary in target/release becomes one that fails.
mv "$bin/gaussian-bench" "$bin/gaussian-bench.before-rebuild"
restore() {
  if [[ -f $bin/gaussian-bench.before-rebuild ]]; then
    mv -f "$bin/gaussian-bench.before-rebuild" "$bin/gaussian-bench"
  fi
}
trap 'restore; cleanup' EXIT
printf '#!/bin/sh\necho "a rebuilt gaussian-bench ran" >&2\nexit 7\n' >"$bin/gaussian-bench"
chmod +x "$bin/gaussian-bench"
scontrol release "$held" || fail "scontrol release $held"
for _ in $(seq 1 600); do
  [[ -z $(timeout 10 squeue -h -j "$held" 2>/dev/null) ]] && break
  sleep 0.5
done
restore
for k in 0 1; do
  [[ $(task_state "$held" "$k") == COMPLETED ]] || fail "snapshot task ${held}_$k: $(task_state "$held" "$k")"
  grep -q "a rebuilt gaussian-bench ran" "$work/gaussian-bench-${held}_$k.out" &&
    fail "task ${held}_$k ran the rebuilt binary"
done
# The cells record the build that made them: the snapshot's, which is the one before the rebuild.
for cell in "$OUT"/cells/*.h5; do
  build=$(h5dump -a /chunkwise/hdf5/2/build "$cell" | grep -oP '\(0\): "\K[^"]+' | head -1)
  [[ "$real_build" == *"(build $build)"* ]] || fail "$cell was made by build $build, expected $real_build"
done
[[ $(ls "$OUT"/cells/*.h5 | wc -l) == 2 ]] || fail "the snapshot array made $(ls "$OUT"/cells/*.h5 | wc -l) cells, expected 2"

cd / && rm -rf "$work"
echo "test-slurm: passed (array ${array}, failure ${failing}, retry ${retry}, one job ${single}, mpiexec ${viaexec}, snapshot ${held})"
