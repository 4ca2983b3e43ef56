#!/usr/bin/env bash
# Set everything up and run the demo: the fake Microsoft identity platform (or the real
# Entra ID when MICROSOFT_SSO_APPLICATION_ID, _CLIENT_SECRET and _TENANT_ID are exported),
# the example API on SQLite and the database cache, and the example SPA on its own origin.
# It prints the URL to open; Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
cd "$ROOT"

# Its own environment, with only what the demo runs (scripts/test.sh keeps .venv and the
# development tools); the SPA is rebuilt only when its sources changed.
demo_venv
build_spa
exec "$ROOT/.venv-demo/bin/python" "$ROOT/example/run_demo.py" "$@"
