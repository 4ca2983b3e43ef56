# Shared helpers for the scripts in this folder. Source it; do not run it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# find_python MIN_MINOR: print the path of a CPython 3.x with x >= MIN_MINOR.
find_python() {
    local min_minor="$1" candidate
    for candidate in python3.13 python3.12 python3.11 python3 \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[1-9]*/bin/python3; do
        local path
        path="$(command -v "$candidate" 2>/dev/null)" || continue
        # pyenv shims exist for versions that are not selected; make sure it runs.
        if "$path" -c "import sys, venv; sys.exit(0 if sys.version_info >= (3, $min_minor) else 1)" 2>/dev/null; then
            echo "$path"
            return 0
        fi
    done
    return 1
}

# ensure_venv DIR MIN_MINOR DJANGO_SPEC [EXTRAS]: a virtualenv with the project (editable,
# with EXTRAS, default "dev") and the given Django. Reinstalls only when pyproject.toml, the
# spec or the extras changed.
ensure_venv() {
    local dir="$1" min_minor="$2" django_spec="$3" extras="${4:-dev}" python stamp want
    stamp="$dir/.sso-api-installed"
    want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16) $django_spec [$extras]"
    if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    python="$(find_python "$min_minor")" || {
        echo "No Python >= 3.$min_minor found (looked on PATH and in pyenv)." >&2
        return 1
    }
    log "Setting up $dir with $("$python" --version), $django_spec and [$extras]"
    rm -rf "$dir"
    "$python" -m venv "$dir"
    # pip's output goes to a log, shown only when the installation fails.
    if ! { "$dir/bin/python" -m pip install --upgrade pip \
            && "$dir/bin/python" -m pip install -e "$ROOT[$extras]" "$django_spec"; } > "$dir/install.log" 2>&1; then
        cat "$dir/install.log" >&2
        echo "Installing into $dir failed (log above)." >&2
        return 1
    fi
    echo "$want" > "$stamp"
}

# The main environment: the newest Django (6.x needs Python >= 3.12).
main_venv() { ensure_venv "$ROOT/.venv" 12 "Django>=6.0,<7"; }
# The LTS environment: Django 5.2 on the oldest supported Python.
lts_venv() { ensure_venv "$ROOT/.venv-django52" 11 "Django>=5.2,<5.3"; }
# The demo's environment: what example/run_demo.py and the example project import (the
# fake identity platform's [testing], the example's [example]), without the test and
# lint tools of [dev].
demo_venv() { ensure_venv "$ROOT/.venv-demo" 12 "Django>=6.0,<7" "example,testing"; }

# ensure_services: PostgreSQL and Redis on 127.0.0.1, started if they are not running.
ensure_services() {
    if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        log "Starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    fi
    if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        log "Starting Redis"
        mkdir -p /var/lib/redis /var/log/redis
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
            --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    fi
    local attempt
    for attempt in $(seq 1 30); do
        if pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    echo "PostgreSQL or Redis did not come up on 127.0.0.1" >&2
    return 1
}

# spa_sources_hash: a hash of everything the example SPA's build reads: its sources and
# public files, the packages it is built on (frontend_example/packages: the client and its
# React binding), its configuration and lock file, and docs/openapi.yaml, from which the
# build generates the api-types.ts files (left out themselves, being generated, as are the
# packages' own build output and anything installed).
spa_sources_hash() {
    (
        cd "$ROOT"
        {
            find frontend_example/src frontend_example/public frontend_example/packages -type f \
                ! -path frontend_example/src/api-types.ts \
                ! -path 'frontend_example/packages/*/src/api-types.ts' \
                ! -path 'frontend_example/packages/*/dist/*' \
                ! -path '*/node_modules/*' -print0
            printf '%s\0' frontend_example/index.html frontend_example/package.json \
                frontend_example/package-lock.json frontend_example/tsconfig.json \
                frontend_example/vite.config.ts docs/openapi.yaml
        } | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
    )
}

# build_spa: install the example SPA's npm packages (when the lock file changed) and build
# it, unless dist/ already holds a build of the same sources (see spa_sources_hash).
build_spa() {
    local dir="$ROOT/frontend_example" stamp want built
    stamp="$dir/node_modules/.sso-api-installed"
    want="$(sha256sum "$dir/package-lock.json" | cut -c1-16)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "Installing the example SPA's npm packages"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$want" > "$stamp"
    fi
    # The stamp lives in dist/, which the build empties first: a failed build leaves none.
    built="$dir/dist/.sso-api-sources"
    want="$(spa_sources_hash)"
    if [ -f "$dir/dist/index.html" ] && [ "$(cat "$built" 2>/dev/null)" = "$want" ]; then
        log "The example SPA is built and its sources are unchanged"
        return 0
    fi
    log "Building the example SPA"
    (cd "$dir" && npm run --silent build)
    echo "$want" > "$built"
}

# ensure_chromium: Debian's Chromium for the browser tests (a test tool's own browser
# download cannot work here).
ensure_chromium() {
    if [ -x /usr/bin/chromium ]; then
        return 0
    fi
    log "Installing Chromium from Debian's packages"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium > /dev/null
}
