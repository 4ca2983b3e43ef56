#!/usr/bin/env bash
# Set everything up and run the example project: the API on http://127.0.0.1:8000 and,
# unless real Entra credentials are exported, the fake Microsoft identity platform on
# https://127.0.0.1:9443. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
cd "$ROOT"

API_PORT="${SSO_DEMO_API_PORT:-8000}"
PLATFORM_PORT="${SSO_DEMO_PLATFORM_PORT:-9443}"
API_ORIGIN="http://127.0.0.1:$API_PORT"
STATE_DIR="$ROOT/.demo"

main_venv
mkdir -p "$STATE_DIR"
PY="$ROOT/.venv/bin/python"
MANAGE=("$PY" "$ROOT/example/manage.py")
export EXAMPLE_DATABASE="$STATE_DIR/db.sqlite3"

pids=()
cleanup() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

if [ -n "${MICROSOFT_SSO_APPLICATION_ID:-}" ] && [ -n "${MICROSOFT_SSO_CLIENT_SECRET:-}" ] \
    && [ -n "${MICROSOFT_SSO_TENANT_ID:-}" ]; then
    log "Using the real Microsoft Entra ID (tenant $MICROSOFT_SSO_TENANT_ID) from your environment"
    unset MICROSOFT_SSO_AUTHORITY MICROSOFT_SSO_CA_BUNDLE
else
    log "Starting the fake Microsoft identity platform on https://127.0.0.1:$PLATFORM_PORT"
    rm -f "$STATE_DIR/platform.json"
    "$PY" -m sso_api.testing serve --host 127.0.0.1 --port "$PLATFORM_PORT" \
        --certificate-dir "$STATE_DIR/certificates" \
        --client-id demo-client --client-secret demo-secret \
        --redirect-uri "$API_ORIGIN/api/sso/callback/" \
        --front-channel-logout-url "https://127.0.0.1:$API_PORT/api/sso/logout/frontchannel/" \
        --demo --state-file "$STATE_DIR/platform.json" &
    pids+=($!)
    for _ in $(seq 1 50); do [ -s "$STATE_DIR/platform.json" ] && break; sleep 0.2; done
    [ -s "$STATE_DIR/platform.json" ] || { echo "the fake identity platform did not start" >&2; exit 1; }
    # One tenant is allowed, the other is not: both kinds of sign-in can be tried.
    eval "$("$PY" - "$STATE_DIR/platform.json" <<'PY'
import json, shlex, sys
state = json.load(open(sys.argv[1]))
allowed = next(t for t in state["tenants"] if t["name"] == "Contoso")
print(f"export MICROSOFT_SSO_AUTHORITY={shlex.quote(state['base_url'] + '/organizations')}")
print(f"export MICROSOFT_SSO_CA_BUNDLE={shlex.quote(state['ca_bundle'])}")
print(f"export MICROSOFT_SSO_ALLOWED_TENANTS={shlex.quote(allowed['tenant_id'])}")
PY
)"
    export MICROSOFT_SSO_APPLICATION_ID=demo-client MICROSOFT_SSO_CLIENT_SECRET=demo-secret
    export MICROSOFT_SSO_TENANT_ID=organizations
fi

log "Preparing the example project (SQLite and the database cache)"
"${MANAGE[@]}" migrate --noinput -v 0
"${MANAGE[@]}" createcachetable -v 0

log "Starting the API on $API_ORIGIN"
"${MANAGE[@]}" runserver "127.0.0.1:$API_PORT" --noreload &
pids+=($!)

for _ in $(seq 1 50); do
    curl -fsS -o /dev/null "$API_ORIGIN/" 2>/dev/null && break
    sleep 0.2
done
printf '\n  Open %s/ and click "Sign in with Microsoft". Ctrl-C stops everything.\n\n' "$API_ORIGIN"
wait -n "${pids[@]}"
