#!/usr/bin/env bash
# A real single-node SLURM on this machine, for testing the sbatch scripts: munge, slurmctld and
# slurmd with their state, logs and pid files in one directory. Installs slurm-wlm and munge
# when missing (Debian; needs root).
#
#   scripts/slurm-local.sh start [DIR]   start (or restart) and wait until the node is idle;
#                                        prints the `export SLURM_CONF=…` every client needs
#   scripts/slurm-local.sh stop [DIR]    stop the daemons by their pid files
#
# DIR defaults to /tmp/chunkwise-slurm. The node is this machine (`slurmd -C`), partition
# `debug`, MPI through PMIx (`srun --mpi=pmix`).
set -euo pipefail
action=${1:-}
dir=${2:-/tmp/chunkwise-slurm}

die() {
  echo "slurm-local: $*" >&2
  exit 1
}

# Kills the process whose pid is in file $1, waiting for it to go (PID 1 here may not reap, so a
# dead daemon can linger as a zombie: only running states count).
stop_pidfile() {
  local file=$1 pid
  [[ -f $file ]] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  if [[ -n $pid ]] && kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do
      pgrep -r R,S,D,T -F "$file" >/dev/null 2>&1 || break
      sleep 0.1
    done
    pgrep -r R,S,D,T -F "$file" >/dev/null 2>&1 && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop() {
  stop_pidfile "$dir/slurmd.pid"
  stop_pidfile "$dir/slurmctld.pid"
  stop_pidfile "$dir/munged.pid"
}

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v sbatch >/dev/null && command -v munged >/dev/null; then
    return 0
  fi
  [[ $(id -u) == 0 ]] || die "slurm-wlm and munge are not installed, and installing them needs root"
  echo "slurm-local: installing slurm-wlm and munge" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q slurm-wlm munge >/dev/null ||
    { apt-get update -q >/dev/null && apt-get install -y -q slurm-wlm munge >/dev/null; } ||
    die "cannot install slurm-wlm and munge with apt-get"
}

start() {
  install
  stop
  local other
  for daemon in slurmctld slurmd; do
    if other=$(pgrep -r R,S,D -x "$daemon"); then
      die "a $daemon is already running (pid $(tr '\n' ' ' <<<"$other")); stop it first (scripts/slurm-local.sh stop ITS_DIR)"
    fi
  done
  # Old state with another configuration is fatal to slurmctld: start clean.
  rm -rf "$dir"
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  # munge: the key from the package, or a new one.
  if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  chown munge:munge "$dir/munge"
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  runuser -u munge -- /usr/sbin/munged --pid-file="$dir/munge/munged.pid" --force
  cp "$dir/munge/munged.pid" "$dir/munged.pid"

  local host nodeline
  host=$(hostname -s)
  nodeline="$(slurmd -C | head -1) NodeAddr=127.0.0.1 State=UNKNOWN"
  cat >"$dir/slurm.conf" <<EOF
ClusterName=chunkwise
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
$nodeline
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -i
  slurmd
  for _ in $(seq 1 100); do
    state=$(timeout 5 sinfo -h -o %t 2>/dev/null || true)
    if [[ $state == idle* ]]; then
      echo "slurm-local: node idle; use: export SLURM_CONF=$dir/slurm.conf" >&2
      echo "export SLURM_CONF=$dir/slurm.conf"
      return 0
    fi
    sleep 0.2
  done
  echo "slurm-local: the node did not become idle (sinfo: ${state:-no answer}); logs:" >&2
  tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
  stop
  exit 1
}

case $action in
  start) start ;;
  stop) stop ;;
  *) die "usage: scripts/slurm-local.sh start|stop [DIR]" ;;
esac
