#!/bin/sh
# Debian's DejaVu fonts for burned-in subtitles (resources/media/burn_in.py draws DejaVu Sans Bold,
# which covers every Portuguese letter; Bitstream Vera licence, free to embed and redistribute).
# Idempotent: does nothing when the font file exists.
set -eu
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
if [ -f "$FONT" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_fonts.sh: no apt-get here; install DejaVu Sans Bold at $FONT" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends fonts-dejavu-core
test -f "$FONT"
