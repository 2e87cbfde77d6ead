#!/usr/bin/env bash
# System packages the test suite needs beyond PyPI: Debian's headless Chromium, which the QA
# report test (tests/qa/test_report_browser.py) opens the HTML index in. Does nothing when it is
# already installed; otherwise installs it with apt-get (as root, or through sudo).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "error: Chromium is missing and installing it needs root: run" \
             "'apt-get update && apt-get install -y chromium' as root" >&2
        exit 1
    }
    SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
