#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for the sweep tests (what ../shared/slurm/README.md verified on these
# machines): munge, slurmctld and slurmd as root, no cgroups, no accounting.
#   scripts/slurm_local.sh start STATE_DIR   installs slurm-wlm + munge where missing, starts the daemons, waits
#                                            for the node; prints `export SLURM_CONF=...` for the caller to eval
#   scripts/slurm_local.sh stop STATE_DIR    stops the daemons by their pid files
set -euo pipefail
cmd="${1:-}"; state="${2:-}"
if [ -z "$cmd" ] || [ -z "$state" ]; then
  echo "usage: $0 start|stop STATE_DIR" >&2; exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
case "$cmd" in
start)
  if ! command -v slurmctld >/dev/null || [ ! -x /usr/sbin/munged ]; then
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >&2
  fi
  mkdir -p "$state/state" "$state/spool" /run/munge
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    /usr/sbin/munged --force >&2
  fi
  munge -n | unmunge | grep -q 'STATUS: *Success' || { echo "slurm_local: munge does not answer" >&2; exit 1; }
  host="$(hostname -s)"
  mem=$(( $(free -m | awk '/^Mem:/{print $2}') - 2048 ))
  sed -e "s|HOST|$host|g" -e "s|STATE_DIR|$state|g" -e "s|CPUs=2|CPUs=$(nproc)|" \
      -e "s|RealMemory=[0-9]*|RealMemory=$mem|" "$here/slurm.conf.in" > "$state/slurm.conf"
  [ -f /etc/slurm/cgroup.conf ] || { mkdir -p /etc/slurm; echo CgroupPlugin=disabled > /etc/slurm/cgroup.conf; }
  export SLURM_CONF="$state/slurm.conf"
  /usr/sbin/slurmctld -f "$SLURM_CONF" >&2
  /usr/sbin/slurmd -f "$SLURM_CONF" >&2
  for _ in $(seq 1 60); do
    if sinfo -h -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then
      echo "export SLURM_CONF=$SLURM_CONF"; exit 0
    fi
    sleep 1
  done
  echo "slurm_local: the node did not come up; see $state/slurmctld.log and $state/slurmd.log" >&2
  sinfo >&2 || true
  exit 1
  ;;
stop)
  for d in slurmd slurmctld; do
    if [ -f "$state/$d.pid" ]; then kill "$(cat "$state/$d.pid")" 2>/dev/null || true; fi
  done
  ;;
*)
  echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac
