#!/usr/bin/env bash
# A real one-node Slurm cluster on this host, from Debian's packages, for the `slurm` tests and for trying
# sweeps with `dfmsd-bench run SWEEP --executor slurm`.
#
#   scripts/slurm_local.sh start    install what is missing, write the config, start the daemons, wait for idle
#   scripts/slurm_local.sh stop     cancel the cluster's jobs, stop exactly the daemons `start` started (pid files)
#   scripts/slurm_local.sh status   each daemon's pid and the node's state; exit 0 iff all are up
#   scripts/slurm_local.sh env      print SLURM_CONF=... (export it to use sbatch, squeue, sacct, ...)
#
# Exit status: 0 ok, 3 no cluster can run here (the one-line reason is on stderr; the tests skip with it),
# 1 any other failure. `start` and `stop` are idempotent. Runs as root (apt-get; slurmd launches jobs).
#
# Environment: DFMSD_SLURM_STATE (state directory, default /tmp/dfmsd-slurm: config, keys, sockets, pid
# files, logs, spool, database; short, since it holds unix sockets), DFMSD_SLURM_PORT (default 6817:
# slurmctld; slurmd, slurmdbd and MariaDB use the next three ports).
#
# The daemons: munged (private key and socket), MariaDB (private data directory, 127.0.0.1 only) with
# slurmdbd, slurmctld and slurmd. Accounting (slurmdbd) is there because submitit reads job states with
# `sacct`: without it a cancelled or failed job never looks ended to the launcher.
#
# slurm.conf choices (tried on a Debian 12 VM, cgroup v1 controllers mounted, and written for containers):
# * ProctrackType=proctrack/linuxproc: tracks a job's processes through /proc parent links, so it works
#   wherever /proc does. proctrack/cgroup (with task/cgroup) also worked on that VM, but needs a writable
#   cgroup hierarchy, which a container usually lacks (slurmd then does not start), and leaves
#   slurm_<node>/ folders in the host's cgroup tree. linuxproc still signals every process of a step:
#   Slurm's signals (the USR2 warning, SIGTERM on requeue, cancel and time limit) reach the trainer too.
# * TaskPlugin=task/affinity: pins each task to its allocated cores (sched_setaffinity), so a run with
#   resources.cpus=N gets N cores, as cgroups would give it, without a cgroup; no memory enforcement.
# * SelectType=select/cons_tres with CR_Core_Memory and DefMemPerCPU = memory / CPUs, so jobs without
#   --mem share the node instead of each taking all of its memory.
# * KillWait=30: the grace time between SIGTERM and SIGKILL on cancel, requeue and time limit.
# * AuthInfo cred_expire=20: a requeued job may start again after 21 s (Slurm's default is 120 s), and
#   sched_interval=5,bf_interval=5: pending jobs are looked at every 5 s (default 60 and 30 s), one node.
set -euo pipefail

STATE=${DFMSD_SLURM_STATE:-/tmp/dfmsd-slurm}
PORT=${DFMSD_SLURM_PORT:-6817}
ETC=$STATE/etc
RUN=$STATE/run
LOG=$STATE/log
CONF=$ETC/slurm.conf
MUNGE_SOCKET=$RUN/munge.socket
DB_SOCKET=$RUN/mariadb.sock
PACKAGES=(slurm-wlm slurmdbd munge mariadb-server)
COMMANDS=(munged mungekey slurmctld slurmd slurmdbd sbatch sacct scontrol mariadbd mariadb-install-db mariadb)
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)  # start order; stop goes backwards
export SLURM_CONF=$CONF

say() { echo "slurm_local.sh: $*" >&2; }
unavailable() { say "unavailable: $*"; exit 3; }
die() { say "error: $*"; exit 1; }

# ---------------------------------------------------------------------------- processes

pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }

alive() {  # alive NAME: the pid file names a live process called NAME (not a recycled pid)
  local pid
  pid=$(pid_of "$1")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...: poll COMMAND every 0.5 s
  local seconds=$1 what=$2 i
  shift 2
  for ((i = 0; i < seconds * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$what did not come up within ${seconds}s (logs in $LOG)"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_daemon() {  # SIGTERM, then SIGKILL after 30 s
  local name=$1 pid i
  if ! alive "$name"; then rm -f "$RUN/$name.pid"; return 0; fi
  pid=$(pid_of "$name")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || break
    sleep 0.5
  done
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
    say "$name (pid $pid) ignored SIGTERM for 30 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
  echo "stopped $name (pid $pid)"
}

# ---------------------------------------------------------------------------- install

install_packages() {
  local missing=() cmd
  for cmd in "${COMMANDS[@]}"; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || unavailable "not root, and ${missing[*]} missing: apt-get install ${PACKAGES[*]} as root"
  command -v apt-get >/dev/null || unavailable "${missing[*]} missing and no apt-get here (the cluster needs Debian's ${PACKAGES[*]})"
  mkdir -p "$LOG"
  say "installing ${PACKAGES[*]} (missing: ${missing[*]}); log in $LOG/apt.log"
  # no service may start from the packages' scripts: the cluster runs on its own config, ports and sockets
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created=1; fi
  local rc=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
  } >>"$LOG/apt.log" 2>&1 || rc=$?
  [ "$created" = 1 ] && rm -f "$policy"
  [ "$rc" = 0 ] || unavailable "apt-get install ${PACKAGES[*]} failed (status $rc): $(grep -v '^\s*$' "$LOG/apt.log" | tail -n 1)"
}

# ---------------------------------------------------------------------------- config

write_config() {
  mkdir -p "$ETC" "$RUN" "$LOG" "$STATE/ctld" "$STATE/spool" "$STATE/munge"
  chmod 755 "$STATE" "$ETC" "$RUN"  # munged wants its socket's folder searchable by all
  chmod 700 "$STATE/munge"
  local node cpus mem
  node=$(slurmd -C | head -n 1)  # NodeName=<host> CPUs=... RealMemory=...: what slurmd will detect
  [[ $node == NodeName=* ]] || die "slurmd -C printed no node line: $node"
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
  mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
  local name=${node%% *}
  name=${name#NodeName=}
  cat >"$CONF.tmp" <<EOF
# written by scripts/slurm_local.sh: a one-node cluster on $name (see the script for the choices)
ClusterName=dfmsd
SlurmctldHost=$name(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=20
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$((PORT + 2))
AccountingStoragePass=$MUNGE_SOCKET
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((mem / cpus))
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5,bf_interval=5
JobRequeue=1
MailProg=/bin/true
KillWait=30
ReturnToService=2
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
  [ -s "$ETC/db.pass" ] || (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$ETC/db.pass")
  (
    umask 077
    cat >"$ETC/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$((PORT + 2))
SlurmUser=root
LogFile=$LOG/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$((PORT + 3))
StorageUser=slurm
StoragePass=$(cat "$ETC/db.pass")
StorageLoc=slurm_acct_db
EOF
  )
  [ -s "$ETC/munge.key" ] || mungekey --create --keyfile="$ETC/munge.key" >/dev/null
  chmod 600 "$ETC/munge.key"
}

# ---------------------------------------------------------------------------- daemons

munge_works() { munge -S "$MUNGE_SOCKET" -n | unmunge -S "$MUNGE_SOCKET"; }

start_munged() {
  munged --key-file="$ETC/munge.key" --socket="$MUNGE_SOCKET" --pid-file="$RUN/munged.pid" \
    --log-file="$LOG/munged.log" --seed-file="$STATE/munge/munged.seed"
  wait_for 20 munged munge_works
}

db() { mariadb --no-defaults -S "$DB_SOCKET" -u root "$@"; }

start_mariadbd() {
  if [ ! -d "$STATE/db/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$STATE/db" --user=root --auth-root-authentication-method=socket \
      --skip-test-db >"$LOG/mariadb-install-db.log" 2>&1 || die "mariadb-install-db failed: see $LOG/mariadb-install-db.log"
  fi
  setsid mariadbd --no-defaults --datadir="$STATE/db" --socket="$DB_SOCKET" --port=$((PORT + 3)) \
    --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$RUN/mariadbd.pid" --log-error="$LOG/mariadbd.log" \
    --user=root --innodb-buffer-pool-size=64M --innodb-lock-wait-timeout=900 </dev/null >/dev/null 2>&1 &
  wait_for 60 MariaDB db -e 'SELECT 1'
  local pass
  pass=$(cat "$ETC/db.pass")
  db -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
         ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
}

start_slurmdbd() {
  slurmdbd
  wait_for 30 slurmdbd port_open $((PORT + 2))
}

start_slurmctld() {
  slurmctld
  wait_for 30 slurmctld scontrol ping
}

start_slurmd() {
  slurmd
  wait_for 20 slurmd alive slurmd
}

node_state() { sinfo -h -N -o %t 2>/dev/null | head -n 1; }

wait_idle() {
  local i state=
  for ((i = 0; i < 120; i++)); do
    state=$(node_state)
    case $state in
      idle | mix | alloc) return 0 ;;
      down* | drain* | fail*)
        die "node is $state: $(sinfo -h -R -o %E | head -n 1); see $LOG/slurmd.log" ;;
    esac
    sleep 0.5
  done
  die "node not idle after 60 s (state '$state'); see $LOG/slurmd.log"
}

ports_free() {
  local p
  for p in "$PORT" $((PORT + 1)) $((PORT + 2)) $((PORT + 3)); do
    if port_open "$p"; then
      die "port $p is in use by another process (another Slurm or MariaDB?): set DFMSD_SLURM_PORT"
    fi
  done
}

# ---------------------------------------------------------------------------- commands

cmd_start() {
  [ "$(id -u)" = 0 ] || unavailable "needs root (apt-get, and slurmd launches the jobs); CI runs as root"
  install_packages
  local d all=1
  for d in "${DAEMONS[@]}"; do alive "$d" || all=0; done
  if [ "$all" = 0 ]; then
    for d in "${DAEMONS[@]}"; do
      if alive "$d"; then
        die "$d is running but not all daemons are: run '$0 stop' first"
      fi
    done
    ports_free
    write_config
    trap 'rc=$?; if [ $rc != 0 ]; then say "start failed: stopping what it started"; cmd_stop >&2; fi' EXIT
    for d in "${DAEMONS[@]}"; do
      "start_$d"
      echo "started $d (pid $(pid_of "$d"))"
    done
  fi
  wait_idle
  trap - EXIT
  echo "node $(sinfo -h -N -o '%N %c CPUs %m MB %t'); SLURM_CONF=$CONF"
}

cmd_stop() {
  if alive slurmctld; then
    local jobs
    jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
      echo "cancelling jobs $jobs"
      # shellcheck disable=SC2086
      scancel $jobs || true
      local i
      for ((i = 0; i < 90 && $(squeue -h 2>/dev/null | wc -l) > 0; i++)); do sleep 0.5; done
    fi
  fi
  local i
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do stop_daemon "${DAEMONS[i]}"; done
}

cmd_status() {
  local d rc=0
  for d in "${DAEMONS[@]}"; do
    if alive "$d"; then echo "$d: running (pid $(pid_of "$d"))"; else echo "$d: stopped"; rc=1; fi
  done
  if alive slurmctld; then sinfo -N -o '%N %c %m %t' || rc=1; fi
  echo "SLURM_CONF=$CONF"
  return $rc
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) echo "SLURM_CONF=$CONF" ;;
  -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) say "usage: $0 start|stop|status|env"; exit 2 ;;
esac
