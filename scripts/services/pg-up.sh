#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster on loopback and prints its URL on the last line.
# usage: scripts/services/pg-up.sh [DIR] [PORT]     (stop it with scripts/services/pg-down.sh DIR)
set -euo pipefail
dir=${1:-/tmp/aicloud-pg}
port=${2:-55432}
pgbin=/usr/lib/postgresql/15/bin
if [ ! -x "$pgbin/postgres" ]; then
  echo "pg-up: installing postgresql-15 from Debian" >&2
  apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends postgresql-15 >&2
fi
if [ -f "$dir/data/postmaster.pid" ]; then
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
fi
rm -rf "$dir"
mkdir -p "$dir"
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
echo "$password" > "$dir/pwfile"
chown -R postgres "$dir"
chmod 700 "$dir"
runuser -u postgres -- "$pgbin/initdb" -D "$dir/data" -U postgres -E UTF8 --auth-host=scram-sha-256 \
  --auth-local=trust --pwfile="$dir/pwfile" >"$dir/initdb.log" 2>&1
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
runuser -u postgres -- "$pgbin/pg_ctl" -D "$dir/data" -w -t 30 -l "$dir/server.log" start >&2
echo "postgres://postgres:$password@127.0.0.1:$port/postgres"
