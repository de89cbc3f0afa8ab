#!/bin/sh
# Debian's chromium for the browser test (tests/test_ui_browser.py drives it with Playwright).
# Idempotent: does nothing when /usr/bin/chromium exists. Never downloads Playwright's browsers.
set -eu
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_chromium.sh: no apt-get here; install a Chromium at /usr/bin/chromium" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium
/usr/bin/chromium --version
