#!/usr/bin/env bash
# A real single-node SLURM on this machine, for the survey tests (tests/survey/test_slurm.py)
# and for trying `vlassdask survey run --cluster cluster/slurm-local.yaml` on a laptop:
#
#   bash tools/slurm-single-node.sh install   # Debian's slurmctld, slurmd, munge (root or sudo)
#   bash tools/slurm-single-node.sh start     # config for this host, munge + daemons, wait idle
#   bash tools/slurm-single-node.sh stop
#
# The configuration (written to /etc/slurm/slurm.conf, state under /var/spool/slurm-vlassdask)
# is one node named after this host with its CPUs and real memory (less 1 GiB), one partition
# `debug`, no cgroups (containers rarely allow them), jobs of any user (root included).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
STATE=/var/spool/slurm-vlassdask
CONF=/etc/slurm/slurm.conf

install() {
    if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 \
            && command -v munged >/dev/null 2>&1; then
        return 0
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slurmctld slurmd slurm-client \
        munge >/dev/null
}

write_config() {
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))
    $SUDO mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" /var/log/slurm
    $SUDO tee "$CONF" >/dev/null <<EOF
ClusterName=vlassdask
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=30
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
    write_config
    if [ ! -s /etc/munge/munge.key ]; then
        $SUDO mkdir -p /etc/munge
        $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        $SUDO chown munge:munge /etc/munge/munge.key 2>/dev/null || true
        $SUDO chmod 400 /etc/munge/munge.key
    fi
    $SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge
    $SUDO chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    if ! pgrep -x munged >/dev/null; then
        $SUDO munged --force 2>/dev/null
    fi
    pgrep -x slurmctld >/dev/null || $SUDO slurmctld
    pgrep -x slurmd >/dev/null || $SUDO slurmd
    for _ in $(seq 1 60); do
        if sinfo -h -o "%t" 2>/dev/null | grep -qE "^(idle|mix|alloc)"; then
            echo "slurm: node $(hostname -s) up ($(nproc) CPUs)"
            return 0
        fi
        scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
        sleep 1
    done
    echo "error: SLURM did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
    return 1
}

stop() {
    $SUDO pkill -x slurmd 2>/dev/null || true
    $SUDO pkill -x slurmctld 2>/dev/null || true
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
