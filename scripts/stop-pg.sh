#!/usr/bin/env bash
# Stops the private PostgreSQL started by start-pg.sh in DIR and removes DIR.
set -uo pipefail
dir=${1:?usage: stop-pg.sh DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -d "$dir/data" ] && runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
rm -rf "$dir"
