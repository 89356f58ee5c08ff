#!/usr/bin/env bash
# Stops the one-node Slurm cluster started by slurm-up.sh (slurmd, slurmctld, munged), each by its pid.
# Configuration and state stay, so slurm-up.sh brings the same cluster (and its queued jobs) back.
set -euo pipefail
run=/run/aicloud-slurm
stop() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}
stop "$run/slurmd.pid"
stop "$run/slurmctld.pid"
stop /run/munge/munged.pid
echo "slurm-down: stopped" >&2
