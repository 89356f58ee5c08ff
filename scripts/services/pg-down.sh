#!/usr/bin/env bash
# Stops the throwaway PostgreSQL cluster started by pg-up.sh and removes its directory.
set -euo pipefail
dir=${1:-/tmp/aicloud-pg}
if [ -f "$dir/data/postmaster.pid" ]; then
  runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$dir/data" -m fast -w stop >&2 || true
fi
rm -rf "$dir"
