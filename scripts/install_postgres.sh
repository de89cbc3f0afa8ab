#!/usr/bin/env bash
# PostgreSQL server binaries from Debian's package, for the tests that run Dagster's production
# storage against a real server (tests/postgres_server.py starts a throwaway cluster per session).
# Idempotent: does nothing when initdb is already installed.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install_postgres.sh: no apt-get here; install the PostgreSQL server (initdb, pg_ctl)" >&2
    exit 1
fi
as_root=()
if [ "$(id -u)" != 0 ]; then
    as_root=(sudo)
fi
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
    postgresql openssl
