#!/usr/bin/env bash
# `npm start`'s prestart: what aicloud up needs to sandbox workloads (Debian packages). As root, installs
# whichever is missing (apt-get update only then); otherwise does nothing: aicloud up itself says which
# isolation is missing and refuses several teams without --allow-shared-uid.
#   bubblewrap   mount, pid, ipc and network namespaces for every job, notebook and replica
#   socat        the platform's API on 127.0.0.1 inside a sandbox (egress: platform)
#   nftables     the host firewall rule that keeps notebooks off the host's services
#   iproute2     the network namespaces of egress-blocked notebooks
set -euo pipefail
need=()
for pair in bubblewrap:/usr/bin/bwrap socat:/usr/bin/socat nftables:/usr/sbin/nft iproute2:/usr/sbin/ip; do
  [ -x "${pair#*:}" ] || need+=("${pair%%:*}")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "aicloud: workload isolation needs ${need[*]} (and root): sudo apt-get install -y ${need[*]}" >&2
  exit 0
fi
echo "aicloud: installing ${need[*]} from Debian for workload isolation" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
