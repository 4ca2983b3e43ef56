#!/usr/bin/env bash
# Set everything up and run every check and test leg. Exits non-zero on any failure,
# including a test run that collected no tests (pytest's exit code 5).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
cd "$ROOT"

main_venv
lts_venv
ensure_services

log "ruff"
.venv/bin/ruff check sso_api tests example scripts
log "mypy"
.venv/bin/mypy sso_api tests

run_leg() {
    local name="$1" venv="$2"; shift 2
    log "pytest: $name"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
}

run_leg "Django 6 / SQLite + database cache" .venv
SSO_TEST_BACKEND=production run_leg "Django 6 / PostgreSQL + Redis" .venv
run_leg "Django 5.2 / SQLite + database cache" .venv-django52
SSO_TEST_BACKEND=production run_leg "Django 5.2 / PostgreSQL + Redis" .venv-django52

log "All checks and tests passed."
