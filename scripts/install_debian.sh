#!/bin/sh
# Usage: install_debian.sh FILE PACKAGE
# Installs Debian's PACKAGE unless FILE already exists (idempotent), then checks FILE is there.
# Shared by install_chromium.sh and install_fonts.sh; never downloads anything but the package.
set -eu
FILE="$1"
PACKAGE="$2"
if [ -e "$FILE" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "$(basename "$0"): no apt-get here; install $PACKAGE (it provides $FILE)" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "$PACKAGE"
test -e "$FILE"
