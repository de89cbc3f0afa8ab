#!/bin/sh
# Debian's DejaVu fonts for burned-in subtitles (resources/media/burn_in.py draws DejaVu Sans Bold,
# which covers every Portuguese letter; Bitstream Vera licence, free to embed and redistribute).
# Idempotent: does nothing when the font file exists.
set -eu
exec sh "$(dirname "$0")/install_debian.sh" \
    /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf fonts-dejavu-core
