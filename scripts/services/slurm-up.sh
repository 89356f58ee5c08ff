#!/usr/bin/env bash
# Starts a one-node Slurm 22.05 cluster on loopback (node1, partition `gpu`, 4 fake GPUs) without systemd.
# usage: scripts/services/slurm-up.sh          (stop it with scripts/services/slurm-down.sh)
# Idempotent: installs Slurm from Debian only when missing, rewrites the configuration, restarts a daemon
# only when it is not running or its configuration changed, and returns once node1 is idle.
# Configuration goes to /etc/slurm (where Debian's binaries read slurm.conf); state to /var/lib/slurm,
# logs and the job completion file to /var/log/slurm, pid files to /run/aicloud-slurm.
set -euo pipefail
conf=/etc/slurm
state=/var/lib/slurm
logs=/var/log/slurm
run=/run/aicloud-slurm
fakegpu=$state/fakegpu
partition=${AICLOUD_SLURM_PARTITION:-gpu}
log() { echo "slurm-up: $*" >&2; }

if ! [ -x /usr/sbin/slurmctld ] || ! [ -x /usr/sbin/slurmd ] || ! [ -x /usr/sbin/munged ] ||
  ! command -v sbatch >/dev/null 2>&1; then
  log "installing munge slurmctld slurmd slurm-client from Debian"
  # Wait for a concurrent apt-get (another service script) instead of failing on its lock.
  apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    munge slurmctld slurmd slurm-client >&2
fi

# Never overwrite the configuration of a real cluster.
if [ -f "$conf/slurm.conf" ] && ! grep -q '^# Written by aicloud' "$conf/slurm.conf" &&
  [ "${AICLOUD_SLURM_FORCE:-}" != 1 ]; then
  log "$conf/slurm.conf was not written by this script; set AICLOUD_SLURM_FORCE=1 to replace it"
  exit 1
fi

mkdir -p "$conf" "$state/slurmctld" "$state/slurmd" "$logs" "$run" "$fakegpu"
# Four dummy character devices stand in for GPUs: slurmd drops a gres line without files.
for i in 0 1 2 3; do
  [ -c "$fakegpu/gpu$i" ] || mknod -m 0666 "$fakegpu/gpu$i" c 195 "$i"
done

cpus=$(nproc)
new=$(mktemp -d)
trap 'rm -rf "$new"' EXIT
cat >"$new/slurm.conf" <<CONF
# Written by aicloud scripts/services/slurm-up.sh: a one-node test cluster on loopback.
ClusterName=aicloud
SlurmctldHost=localhost(127.0.0.1)
CommunicationParameters=NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/slurmctld
SlurmdSpoolDir=$state/slurmd
SlurmctldPidFile=$run/slurmctld.pid
SlurmdPidFile=$run/slurmd.pid
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
GresTypes=gpu
SlurmdParameters=config_overrides
ReturnToService=2
EnforcePartLimits=ALL
KillWait=10
MinJobAge=300
MaxJobCount=20000
JobCompType=jobcomp/filetxt
JobCompLoc=$logs/jobcomp.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup,task/affinity
MpiDefault=none
NodeName=node1 NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$cpus RealMemory=16384 Gres=gpu:4 State=UNKNOWN
PartitionName=$partition Nodes=node1 Default=YES MaxTime=INFINITE State=UP
CONF
cat >"$new/gres.conf" <<CONF
AutoDetect=off
NodeName=node1 Name=gpu File=$fakegpu/gpu[0-3]
CONF
cat >"$new/cgroup.conf" <<CONF
CgroupPlugin=cgroup/v1
ConstrainCores=no
ConstrainDevices=no
ConstrainRAMSpace=yes
CONF

changed=0
for file in slurm.conf gres.conf cgroup.conf; do
  if ! cmp -s "$new/$file" "$conf/$file"; then
    install -m 0644 "$new/$file" "$conf/$file"
    changed=1
  fi
done

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop() {
  local pidfile=$1 pid
  alive "$pidfile" || return 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# munge: the key is created by the package; make one when it is missing.
if ! [ -s /etc/munge/munge.key ]; then
  log "creating /etc/munge/munge.key"
  mkdir -p /etc/munge
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
if ! alive /run/munge/munged.pid; then
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged
fi

if [ "$changed" = 1 ]; then
  log "configuration changed: restarting slurmctld and slurmd"
  stop "$run/slurmd.pid"
  stop "$run/slurmctld.pid"
fi
if ! alive "$run/slurmctld.pid"; then
  log "starting slurmctld"
  /usr/sbin/slurmctld
fi
if ! alive "$run/slurmd.pid"; then
  log "starting slurmd"
  /usr/sbin/slurmd -N node1
fi

for _ in $(seq 1 300); do
  node=$(sinfo -h -n node1 -o %T 2>/dev/null || true)
  case "$node" in
  idle | mixed | allocated) break ;;
  drain* | down* | inval*)
    # ReturnToService=2 brings a node back once it registers valid; nudge it after a restart.
    scontrol update NodeName=node1 State=RESUME >/dev/null 2>&1 || true
    ;;
  esac
  sleep 0.2
done
if ! [[ "$node" =~ ^(idle|mixed|allocated)$ ]]; then
  log "node1 is '$node', not idle; see $logs/slurmctld.log and $logs/slurmd.log"
  exit 1
fi
log "node1 is $node (partition $partition, 4 GPUs, $cpus CPUs)"
