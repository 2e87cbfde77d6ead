#!/usr/bin/env bash
# System packages the test suite needs beyond PyPI, installed with apt-get (as root, or through
# sudo) when missing:
# * Debian's headless Chromium, which the HTML report tests open pages in
#   (tests/qa/test_report_browser.py, tests/survey/test_survey_runs.py);
# * Debian's SLURM (slurmctld, slurmd, slurm-client, munge), which the survey tests start as a
#   single-node cluster (tools/slurm-single-node.sh, tests/survey/test_slurm.py).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || missing+=(chromium)
for tool in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "error: ${missing[*]} missing and installing needs root: run" \
             "'apt-get update && apt-get install -y ${missing[*]}' as root" >&2
        exit 1
    }
    SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
