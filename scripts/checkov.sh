#!/usr/bin/env bash
# Static checks of terraform/ with checkov, offline, in its own virtualenv (its pinned
# dependencies clash with the project's). Skipped checks are annotated in the .tf files and
# explained in terraform/README.md. Usage: scripts/checkov.sh [extra checkov arguments]
set -euo pipefail

venv="${CHECKOV_VENV:-/tmp/checkov-venv}"
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -x "$venv/bin/checkov" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "checkov>=3.2,<4"
fi
# --skip-download: no calls to Prisma Cloud for guidelines or policies; everything runs locally.
exec "$venv/bin/checkov" -d "$here/terraform" --framework terraform --compact --quiet \
    --skip-download "$@"
