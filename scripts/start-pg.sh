#!/usr/bin/env bash
# Starts a private PostgreSQL on 127.0.0.1 in DIR (created if missing) and prints `export` lines:
# KAJI_TEST_DATABASE_URL, KAJI_PG_DIR, KAJI_PG_BIN. Stop it with scripts/stop-pg.sh DIR.
#   usage: start-pg.sh DIR [--durable]     (--durable keeps fsync on: use it for benchmarks)
set -euo pipefail
dir=${1:?usage: start-pg.sh DIR [--durable]}
durable=${2:-}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries not found: run scripts/setup.sh" >&2; exit 1; }
mkdir -p "$dir"; chown postgres:postgres "$dir"; chmod 700 "$dir"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
opts="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=1000"
if [ "$durable" != "--durable" ]; then opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"; fi
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "$opts" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "export KAJI_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
echo "export KAJI_PG_DIR=$dir"
echo "export KAJI_PG_BIN=$bin"
