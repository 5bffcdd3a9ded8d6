#!/usr/bin/env bash
# Starts a private PostgreSQL on 127.0.0.1 in DIR (created if missing) and prints `export` lines:
# KAJI_TEST_DATABASE_URL, KAJI_PG_DIR, KAJI_PG_BIN. Stop it with scripts/stop-pg.sh DIR.
#   usage: start-pg.sh DIR [--durable] [--tls]
#     --durable  keeps fsync on: use it for benchmarks
#     --tls      turns ssl on with a throwaway CA and a server certificate for 127.0.0.1 and localhost made
#                here with openssl (DIR/tls); also prints KAJI_PG_TLS_CA, the CA file to trust
set -euo pipefail
dir=${1:?usage: start-pg.sh DIR [--durable] [--tls]}
shift
durable=""
tls=""
for arg in "$@"; do
  case "$arg" in
    --durable) durable=--durable ;;
    --tls) tls=1 ;;
    *) echo "start-pg.sh: unknown option $arg (known: --durable, --tls)" >&2; exit 2 ;;
  esac
done
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries not found: run scripts/setup.sh" >&2; exit 1; }
mkdir -p "$dir"; chown postgres:postgres "$dir"; chmod 700 "$dir"
# A free port below the kernel's ephemeral range (32768 and up here): a port the kernel hands out could be
# taken by some client's outgoing connection while the server restarts (tests restart it), and then it could
# not come back on its own port.
port=$(python3 -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    p = random.randrange(20000, max(20001, min(low, 32768)))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()
else:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
')
runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
opts="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=1000"
if [ "$durable" != "--durable" ]; then opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"; fi
if [ -n "$tls" ]; then
  t="$dir/tls"; mkdir -p "$t"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kaji throwaway test CA" \
    -keyout "$t/ca.key" -out "$t/ca.crt" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$t/server.key" -out "$t/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$t/san.ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial -days 2 \
    -extfile "$t/san.ext" -out "$t/server.crt" >/dev/null 2>&1
  # PostgreSQL refuses a key file that others can read: owned by postgres, mode 0600.
  chown postgres:postgres "$t/server.key" "$t/server.crt"; chmod 600 "$t/server.key"; chmod 755 "$t"; chmod 644 "$t/ca.crt"
  opts="$opts -c ssl=on -c ssl_cert_file=$t/server.crt -c ssl_key_file=$t/server.key"
fi
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "$opts" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "export KAJI_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
echo "export KAJI_PG_DIR=$dir"
echo "export KAJI_PG_BIN=$bin"
if [ -n "$tls" ]; then echo "export KAJI_PG_TLS_CA=$dir/tls/ca.crt"; fi
