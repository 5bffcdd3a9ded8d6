#!/usr/bin/env bash
# Runs schemathesis (PyPI) against a live `kaji serve`: its own private PostgreSQL, a migrated schema, an
# admin token seeded with `kaji token create`, the server on a free loopback port. Checks: no 5xx, every
# response matches openapi.yaml (served at /api/v1/openapi.json).
#   usage: scripts/schemathesis.sh [extra `st run` arguments]   (KAJI_BIN: default .build/debug/kaji)
# Needs: pip install schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."
kaji=${KAJI_BIN:-$PWD/.build/debug/kaji}
command -v st >/dev/null || { echo "schemathesis is not installed: pip install schemathesis" >&2; exit 1; }
work=$(mktemp -d /tmp/kaji-st.XXXXXX)
chmod 755 "$work"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  scripts/stop-pg.sh "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
eval "$(scripts/start-pg.sh "$work/pg")"
export DATABASE_URL="$KAJI_TEST_DATABASE_URL" KAJI_SCHEMA=kaji_st
export KAJI_SECRET_KEY=$("$kaji" secret keygen 2>/dev/null || python3 -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())')
"$kaji" migrate >/dev/null
token=$("$kaji" token create schemathesis --role admin)
KAJI_LOG_LEVEL=warning "$kaji" serve --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
for _ in $(seq 1 300); do
  grep -q '^kaji serve listening on ' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
base=$(sed -n 's/^kaji serve listening on //p' "$work/serve.out" | head -n 1)
[ -n "$base" ] || { echo "kaji serve did not start:" >&2; cat "$work/serve.err" >&2; exit 1; }
# From the work folder, so that schemathesis's own files (.hypothesis, .schemathesis) stay out of the repository.
root=$PWD
cd "$work"
st run "$base/api/v1/openapi.json" --url "$base" -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${KAJI_ST_EXAMPLES:-25}" "$@"
cd "$root"
