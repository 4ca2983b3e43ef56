#!/usr/bin/env bash
# Regenerate docs/openapi.yaml from the code (validated; any warning fails).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
cd "$ROOT/example"
# Placeholders so that the configuration checks stay quiet; the schema does not depend on them.
DJANGO_SECRET_KEY="schema-generation-only-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
MICROSOFT_SSO_APPLICATION_ID=schema MICROSOFT_SSO_CLIENT_SECRET=schema MICROSOFT_SSO_TENANT_ID=schema \
    "$ROOT/.venv/bin/python" manage.py spectacular --validate --fail-on-warn --file "$ROOT/docs/openapi.yaml"
