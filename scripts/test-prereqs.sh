#!/usr/bin/env bash
# `npm test`'s pretest: the Debian packages the tests use for real. Installs what is missing when run as
# root (apt-get update only then); otherwise fails at once with the one command that installs it.
# A no-op (a few file checks) when everything is there.
#   chromium           the portal tests (headless, through playwright-core; CHROMIUM_PATH overrides)
#   postgresql-15      the store tests on PostgreSQL (test/global-setup.ts starts a throwaway server)
#   jupyter-notebook   the notebook tests
#   bubblewrap socat nftables iproute2   sandboxing, the API inside sandboxes, egress blocking
#   munge slurmctld slurmd slurm-client   the one-node Slurm cluster the setup starts (scripts/services/slurm-up.sh)
#   prometheus         promtool: the exported alert rules and /metrics are checked with it
set -euo pipefail
need=()
want() { # PACKAGE FILE...: PACKAGE is needed unless one of FILE is executable
  local package=$1 file
  shift
  for file in "$@"; do [ -x "$file" ] && return 0; done
  need+=("$package")
}
want chromium "${CHROMIUM_PATH:-/usr/bin/chromium}"
want postgresql-15 /usr/lib/postgresql/15/bin/postgres
want jupyter-notebook /usr/bin/jupyter-notebook
want bubblewrap /usr/bin/bwrap
want socat /usr/bin/socat
want nftables /usr/sbin/nft
want iproute2 /usr/sbin/ip /usr/bin/ip /sbin/ip /bin/ip
want munge /usr/sbin/munged
want slurmctld /usr/sbin/slurmctld
want slurmd /usr/sbin/slurmd
want slurm-client /usr/bin/sbatch
want prometheus /usr/bin/promtool
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "npm test needs Debian packages that are missing (${need[*]}); install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi
started=$(date +%s)
echo "test-prereqs: installing ${need[*]} from Debian" >&2
# Wait for a concurrent apt-get (a service script, another checkout) instead of failing on its lock.
apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
  "${need[@]}" >/dev/null
echo "test-prereqs: installed ${need[*]} in $(($(date +%s) - started)) s" >&2
