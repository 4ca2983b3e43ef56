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
.venv/bin/mypy sso_api tests example/run_demo.py example/native_app.py scripts/settings_reference.py benchmarks
log "mkdocs: the documentation site, strict"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet
log "tsc: the client packages (their tests too) and the example SPA"
(cd frontend_example && npm run --silent typecheck)
log "vitest: the client packages and the example SPA"
(cd frontend_example && npm test --silent)

# What an integrator installs, and nothing else: the project built and installed with its
# testing extra (pip install ".[testing]", as docs/testing.md says), in a virtualenv of its
# own, runs tests/integrator_project with warnings as errors.
integrator_suite() {
    local dir="$ROOT/.venv-integrator" python stamp want
    stamp="$dir/.sso-api-installed"
    want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
    if [ ! -x "$dir/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        python="$(find_python 11)"
        rm -rf "$dir"
        "$python" -m venv "$dir"
        rm -f "$stamp"
    fi
    # The project itself is reinstalled every time (not editable: the installed package is
    # what is tested); its dependencies only when pyproject.toml changed.
    if ! { if [ -f "$stamp" ]; then
               "$dir/bin/python" -m pip install --no-deps --force-reinstall "$ROOT"
           else
               "$dir/bin/python" -m pip install "$ROOT[testing]"
           fi; } > "$dir/install.log" 2>&1; then
        cat "$dir/install.log" >&2
        echo "Installing sso-api[testing] into $dir failed (log above)." >&2
        return 1
    fi
    echo "$want" > "$stamp"
    (cd "$ROOT/tests/integrator_project" \
        && env -u DJANGO_SETTINGS_MODULE "$dir/bin/python" -m pytest -q -p no:cacheprovider)
}
log "pytest: an integrator's suite, with only sso-api[testing] installed"
integrator_suite

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
