#!/usr/bin/env bash
# Fault injection against the release CLI: processes killed at random moments (kill -9, one rank
# of mpiexec -n 2, SIGTERM), concurrent whole-chunk and partial writers, a temp dir and a store on
# a 64 MiB tmpfs. After each fault it checks what chunkwise guarantees:
#   - no acknowledged write is lost;
#   - an interrupted output is never readable as complete (absent, or refused as incomplete; when
#     readable, equal to a clean run's);
#   - the next store open leaves no hidden leftovers (only the store's lock file);
#   - datasets that existed before are intact;
#   - a clean rerun of the interrupted command succeeds.
# Usage: scripts/test-faults.sh [ROUNDS] [BACKEND]   (BACKEND dosna, the default, or zarr; needs
# root for the tmpfs; scripts/test.sh runs it for both)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-8}
BACKEND=${2:-dosna}
case $BACKEND in dosna | zarr) ;; *) echo "test-faults: backend $BACKEND; expected dosna or zarr" >&2; exit 2 ;; esac
echo "test-faults: the $BACKEND store"
BIN=$PWD/target/release/chunkwise
W=$(mktemp -d /tmp/chunkwise-faults.XXXXXX)
TMPFS=$W/tmpfs
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none
cleanup() {
  mountpoint -q "$TMPFS" 2>/dev/null && umount "$TMPFS"
  rm -rf "$W"
}
trap cleanup EXIT

STORE=$W/store
LOC=$BACKEND:$STORE
cw() { "$BIN" --store "$LOC" "$@"; }
fail() { echo "test-faults: FAIL: $*" >&2; exit 1; }
# A random delay of up to $1 seconds.
delay() { awk -v r="$RANDOM" -v m="$1" 'BEGIN { printf "%.3f", r / 32768 * m }'; }
# The values of an exported dataset, one per line (h5dump's text, numbers only).
values() { h5dump -d "$2" -y -w 0 "$1" | sed -n '/DATA {/,/}/p' | grep -v '[{}]' | tr ',' '\n' | tr -d ' ' | grep -v '^$'; }
# A digest of a dataset's values, exported from the store.
digest() {
  rm -f "$W/digest.h5"
  cw export "$1" "$W/digest.h5:/d" >/dev/null
  values "$W/digest.h5" /d | sha256sum | cut -d' ' -f1
}
# The two ranks of the mpiexec started as $1 (itself, or under timeout), once both run.
ranks_of() {
  local ranks="" parent
  for _ in $(seq 100); do
    parent=$(pgrep -P "$1" -x mpiexec || echo "$1")
    ranks=$(pgrep -P "$parent" -x chunkwise || true)
    [ "$(echo "$ranks" | wc -w)" -eq 2 ] && break
    sleep 0.05
  done
  echo $ranks
}
# Waits until every process $@ catches SIGTERM (its SigCgt mask): a signal that arrives while the
# program is still starting has its default action, before chunkwise can do anything about it.
await_handlers() {
  local pid mask
  for pid in "$@"; do
    for _ in $(seq 200); do
      mask=$(awk '/^SigCgt:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
      [ -z "$mask" ] && break # ended already
      [ $((0x$mask & (1 << 14))) -ne 0 ] && break
      sleep 0.005
    done
  done
}
# Hidden entries of the store other than its lock file and incomplete datasets' markers.
leftovers() { find "$STORE" -mindepth 1 -name '.*' ! -path "$STORE/.chunkwise-locks" ! -name '.chunkwise-incomplete.h5' ! -name '.chunkwise-incomplete.json' -print; }

# Checks after a signal $1 (TERM, INT, HUP) ended a filter into smooth whose stderr is in $2:
# one error line naming the signal, the output removed, nothing hidden left (without a reopen).
check_after_signal() {
  [ "$(grep -c 'chunkwise: error' "$2")" -eq 1 ] || { cat "$2" >&2; fail "SIG$1: not one error line"; }
  grep -q "interrupted by SIG$1" "$2" || { cat "$2" >&2; fail "SIG$1: no message"; }
  [ -z "$(find "$STORE" -maxdepth 1 -name smooth)" ] || fail "SIG$1: the output was left behind"
  [ -z "$(leftovers)" ] || fail "SIG$1: hidden leftovers without a reopen"
}

# Checks after a fault that interrupted the making of dataset $1 (clean digest $2).
check_after_fault() {
  local name=$1 want=$2 what=$3
  cw ls >"$W/ls.txt" # opening the store sweeps what dead processes left
  if [ -n "$(leftovers)" ]; then
    leftovers >&2
    ls -la "$STORE/.chunkwise-tmp" >&2 2>/dev/null || true
    pgrep -a chunkwise >&2 || true
    fail "$what: hidden leftovers after the next store open"
  fi
  [ "$(digest base)" = "$BASE" ] || fail "$what: the existing dataset base changed"
  if cw info "$name" >/dev/null 2>"$W/info.err"; then
    grep -qx "$name" "$W/ls.txt" || fail "$what: $name opens but is not listed"
    [ "$(digest "$name")" = "$want" ] || fail "$what: $name reads as complete but differs from a clean run"
    complete=$((complete + 1))
  elif grep -q "is incomplete" "$W/info.err"; then
    grep -q "^$name (incomplete" "$W/ls.txt" || fail "$what: ls does not say $name is incomplete"
    if cw export "$name" "$W/x.h5:/d" 2>/dev/null; then fail "$what: export of an incomplete dataset exited 0"; fi
    incomplete=$((incomplete + 1))
  elif grep -q "not found" "$W/info.err"; then
    absent=$((absent + 1))
  else
    cat "$W/info.err" >&2
    fail "$what: info $name failed unexpectedly"
  fi
}

echo "== setup: base dataset and an HDF5 source"
cw create base --shape 192,192,192 --chunks 32,32,32 --dtype f32 --fill 0 >/dev/null
cw write base --select "10:80, 5:90, 0:96" --value 3.5
cw write base --select "0:40, :, 50:60" --value -1.25
cw write base --select "100:192, 100:192, 0:192" --value 0.5
cw export base "$W/src.h5:/data" >/dev/null
BASE=$(digest base)
cw filter gaussian base smooth_ref --sigma 1.5 >/dev/null
SMOOTH=$(digest smooth_ref)
cw import "$W/src.h5:/data" imp_ref --chunks 16,16,16 >/dev/null
IMPORTED=$(digest imp_ref)
[ "$IMPORTED" = "$BASE" ] || fail "a clean import differs from its source"
cw rm smooth_ref
cw rm imp_ref
complete=0 incomplete=0 absent=0

echo "== kill -9 at random moments: import, filter, write, rm ($ROUNDS rounds each)"
for round in $(seq "$ROUNDS"); do
  "$BIN" --store "$LOC" import "$W/src.h5:/data" imp --chunks 16,16,16 >/dev/null 2>&1 &
  pid=$!; sleep "$(delay 0.6)"; kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  check_after_fault imp "$BASE" "import killed (round $round)"
  cw import "$W/src.h5:/data" imp --chunks 16,16,16 2>/dev/null >/dev/null \
    || { cw info imp >/dev/null 2>&1 || fail "rerun of the import failed"; }
  [ "$(digest imp)" = "$BASE" ] || fail "rerun of the import differs"
  cw rm imp

  "$BIN" --store "$LOC" filter gaussian base smooth --sigma 1.5 >/dev/null 2>&1 &
  pid=$!; sleep "$(delay 0.1)"; kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  check_after_fault smooth "$SMOOTH" "filter killed (round $round)"
  cw rm smooth 2>/dev/null || true
  cw filter gaussian base smooth --sigma 1.5 >/dev/null || fail "rerun of the filter failed"
  [ "$(digest smooth)" = "$SMOOTH" ] || fail "rerun of the filter differs"

  # A write killed: every chunk all old or all new, nothing else changed.
  cw create wr --shape 64,64,64 --chunks 32,32,32 --dtype f32 --fill 0 >/dev/null
  "$BIN" --store "$LOC" write wr --select "0:64, 0:64, 0:40" --value 7 >/dev/null 2>&1 &
  pid=$!; sleep "$(delay 0.05)"; kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  cw ls >/dev/null
  [ -z "$(leftovers)" ] || fail "write killed: hidden leftovers"
  rm -f "$W/wr.h5"; cw export wr "$W/wr.h5:/d" >/dev/null
  bad=$(values "$W/wr.h5" /d | grep -cvx -e 0 -e 7 || true)
  [ "$bad" = 0 ] || fail "write killed: $bad values are neither old nor new"
  cw rm wr

  # rm killed: the dataset is there whole or gone.
  cw filter gaussian base doomed --sigma 1 >/dev/null
  DOOMED=$(digest doomed)
  "$BIN" --store "$LOC" rm doomed >/dev/null 2>&1 &
  pid=$!; sleep "$(delay 0.02)"; kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  check_after_fault doomed "$DOOMED" "rm killed (round $round)"
  cw rm doomed 2>/dev/null || true
  cw rm smooth
done
echo "   outputs found complete: $complete, incomplete (refused): $incomplete, absent: $absent"

echo "== one rank of mpiexec -n 2 killed during filter and import"
for round in $(seq $(( (ROUNDS + 1) / 2 ))); do
  for job in filter import; do
    if [ $job = filter ]; then
      args=(filter gaussian base smooth --sigma 1.5); name=smooth; want=$SMOOTH
    else
      args=(import "$W/src.h5:/data" smooth --chunks 16,16,16); name=smooth; want=$BASE
    fi
    timeout 120 mpiexec -n 2 "$BIN" --store "$LOC" --engine mpi "${args[@]}" >/dev/null 2>&1 &
    launcher=$!
    ranks=$(ranks_of $launcher)
    sleep "$(delay 0.5)"
    rank=$(echo "$ranks" | tr ' ' '\n' | sed -n "$((RANDOM % 2 + 1))p")
    [ -n "$rank" ] && kill -9 "$rank" 2>/dev/null || true
    rc=0; wait $launcher || rc=$?
    [ $rc -ne 124 ] || fail "mpiexec hung after a rank was killed"
    check_after_fault "$name" "$want" "$job, one MPI rank killed (round $round)"
    cw rm "$name" 2>/dev/null || true
  done
done

echo "== SIGTERM and SIGINT run the error path: the output is removed, exit 128+signal"
interrupted=0
for signal in TERM INT HUP TERM INT HUP; do
  # A wide Gaussian (about 0.4 s here), signalled early in it.
  "$BIN" --store "$LOC" filter gaussian base smooth --sigma 6 >/dev/null 2>"$W/sig.err" &
  pid=$!; await_handlers $pid; sleep "$(delay 0.2)"; kill -s $signal $pid 2>/dev/null || true
  rc=0; wait $pid || rc=$?
  if [ $rc -eq 0 ]; then
    cw rm smooth # finished before the signal
    continue
  fi
  interrupted=$((interrupted + 1))
  want=$((128 + $(kill -l $signal)))
  [ $rc -eq $want ] || { cat "$W/sig.err" >&2; fail "SIG$signal: exit status $rc, expected $want"; }
  check_after_signal $signal "$W/sig.err"
done
[ $interrupted -gt 0 ] || fail "no signal arrived before the filter finished: nothing was tested"
echo "   $interrupted of 6 runs interrupted by the signal"

echo "== SIGTERM to the ranks of mpiexec -n 2 (as scancel does): every rank cleans up"
interrupted=0
for round in 1 2 3; do
  mpiexec -n 2 "$BIN" --store "$LOC" --engine mpi filter gaussian base smooth --sigma 6 \
    >/dev/null 2>"$W/mpisig.err" &
  launcher=$!
  ranks=$(ranks_of $launcher)
  # shellcheck disable=SC2086
  await_handlers $ranks
  sleep "$(delay 0.3)"
  # shellcheck disable=SC2086
  kill -TERM $ranks 2>/dev/null || true
  rc=0; wait $launcher || rc=$?
  if [ $rc -eq 0 ]; then
    cw rm smooth # finished before the signal
    continue
  fi
  interrupted=$((interrupted + 1))
  check_after_signal TERM "$W/mpisig.err"
done
[ $interrupted -gt 0 ] || fail "no MPI run was interrupted: nothing was tested"
echo "   $interrupted of 3 runs interrupted"

echo "== concurrent whole-chunk and partial writers: no acknowledged write lost ($ROUNDS rounds)"
for round in $(seq "$ROUNDS"); do
  cw create cc --shape 16,16,16 --chunks 16,16,16 --dtype f32 --fill 0 >/dev/null
  pids=()
  for i in 0 1 2 3 4 5 6 7; do
    "$BIN" --store "$LOC" write cc --select "$i, 0, 0" --value $((i + 1)) &
    pids+=($!)
  done
  "$BIN" --store "$LOC" write cc --select ":, :, :" --value 100 &
  whole=$!
  acked=()
  for i in 0 1 2 3 4 5 6 7; do
    if wait "${pids[$i]}"; then acked+=("$i"); fi
  done
  wait $whole || fail "the whole-chunk write failed"
  rm -f "$W/cc.h5"; cw export cc "$W/cc.h5:/d" --select "0:16, 0, 0:2" >/dev/null
  mapfile -t got < <(values "$W/cc.h5" /d)
  # Element (i, 0, 1) is written by the whole write only: it must hold 100.
  for i in $(seq 0 15); do
    [ "${got[$((2 * i + 1))]}" = 100 ] || fail "round $round: the acknowledged whole-chunk write was undone at ($i, 0, 1): ${got[$((2 * i + 1))]}"
  done
  # Element (i, 0, 0) holds i+1 or 100 (whichever landed last), never the old 0.
  for i in "${acked[@]}"; do
    v=${got[$((2 * i))]}
    [ "$v" = $((i + 1)) ] || [ "$v" = 100 ] || fail "round $round: the acknowledged write of ($i, 0, 0) was lost: $v"
  done
  cw rm cc
done

echo "== a 64 MiB tmpfs as temp dir and as store: clear errors, no SIGBUS, nothing half-made"
mkdir -p "$TMPFS"
mount -t tmpfs -o size=64m tmpfs "$TMPFS"
cw create big --shape 256,256,320 --chunks 64,64,64 --dtype f32 --fill 1 >/dev/null
cw write big --select "0:256, 0:256, 0:320" --value 2
rc=0
CHUNKWISE_RESOURCES__TEMP_DIR=$TMPFS CHUNKWISE_RESOURCES__MAX_MEMORY=16MiB \
  "$BIN" --store "$LOC" export big "$W/big.h5:/d" 2>"$W/tmpfs.err" || rc=$?
[ $rc -eq 1 ] || { cat "$W/tmpfs.err" >&2; fail "export with a small tmpfs temp dir: exit status $rc, expected 1"; }
grep -q "temporary storage" "$W/tmpfs.err" || { cat "$W/tmpfs.err" >&2; fail "export with a small tmpfs temp dir: unclear error"; }
[ -z "$(ls -A "$TMPFS")" ] || fail "export left files in the temp dir"
rc=0
cw export big "$W/big.h5:/d" >/dev/null
"$BIN" --store "$BACKEND:$TMPFS/store" import "$W/big.h5:/d" big --chunks 64,64,64 2>"$W/full.err" || rc=$?
[ $rc -eq 1 ] || { cat "$W/full.err" >&2; fail "import into a full tmpfs store: exit status $rc, expected 1"; }
[ "$(wc -l <"$W/full.err")" -eq 1 ] || { cat "$W/full.err" >&2; fail "import into a full store: not one line"; }
"$BIN" --store "$BACKEND:$TMPFS/store" ls >"$W/ls.txt"
[ ! -s "$W/ls.txt" ] || fail "a failed import left a dataset: $(cat "$W/ls.txt")"
[ -z "$(find "$TMPFS/store" -mindepth 1 -name '.*' ! -name '.chunkwise-locks')" ] || fail "a failed import left hidden entries"
cw rm big

echo "== gaussian-bench with a full --out: exits non-zero, the earlier outputs stay whole"
GB=$PWD/target/release/gaussian-bench
mkdir -p "$TMPFS/out"
"$GB" --store "$W/gb-store" --out "$TMPFS/out" --data-sizes 32 --chunk-sizes 16 --ntest 1 >/dev/null
(cd "$TMPFS/out" && sha256sum ./*) >"$W/out.sums"
# Fill the file system, leaving a few KiB.
dd if=/dev/zero of="$TMPFS/filler" bs=1M 2>/dev/null || true
rm -f "$TMPFS/filler.small"; dd if=/dev/zero of="$TMPFS/filler.small" bs=4k 2>/dev/null || true
rm -f "$TMPFS/filler.small"
rc=0
"$GB" --store "$W/gb-store" --out "$TMPFS/out" --data-sizes 32 --chunk-sizes 16 --ntest 1 \
  >/dev/null 2>"$W/gb.err" || rc=$?
[ $rc -ne 0 ] || fail "gaussian-bench with a full --out exited 0"
(cd "$TMPFS/out" && sha256sum -c --quiet "$W/out.sums") || fail "gaussian-bench with a full --out changed an earlier output"
[ -z "$(find "$TMPFS/out" -name '.tmp-*')" ] || fail "gaussian-bench with a full --out left temporary files"
umount "$TMPFS"

[ "$(digest base)" = "$BASE" ] || fail "the base dataset changed"
echo "test-faults: all fault cases passed"
