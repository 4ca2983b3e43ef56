#!/usr/bin/env bash
# Set everything up and run every check and test leg. Exits non-zero on any failure,
# including a test run that collected no tests (pytest's exit code 5).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
cd "$ROOT"

main_venv
lts_venv
ensure_services
ensure_chromium
build_spa

log "ruff"
.venv/bin/ruff check sso_api tests example scripts benchmarks
log "mypy"
.venv/bin/mypy sso_api tests example/run_demo.py scripts/settings_reference.py benchmarks
log "mkdocs: the documentation site, strict"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet
log "vitest: the example SPA's client module"
(cd frontend_example && npm test --silent)

run_leg() {
    local name="$1" venv="$2"; shift 2
    log "pytest: $name"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
}

# Tests that start their own processes run in one leg each: the browser tests (tests/e2e,
# the demo's processes) and the multi-server tests (tests/production, several API servers
# on PostgreSQL and Redis).
run_leg "Django 6 / SQLite + database cache, with the browser tests" .venv tests \
    --ignore=tests/production
SSO_TEST_BACKEND=production run_leg "Django 6 / PostgreSQL + Redis, with several servers" .venv \
    tests --ignore=tests/e2e
run_leg "Django 5.2 / SQLite + database cache" .venv-django52 tests \
    --ignore=tests/e2e --ignore=tests/production
SSO_TEST_BACKEND=production run_leg "Django 5.2 / PostgreSQL + Redis" .venv-django52 tests \
    --ignore=tests/e2e --ignore=tests/production

log "All checks and tests passed."
