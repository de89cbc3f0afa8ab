#!/bin/sh
# Debian's chromium for the browser test (tests/test_ui_browser.py drives it with Playwright).
# Idempotent: does nothing when /usr/bin/chromium exists. Never downloads Playwright's browsers.
set -eu
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
sh "$(dirname "$0")/install_debian.sh" /usr/bin/chromium chromium
/usr/bin/chromium --version
