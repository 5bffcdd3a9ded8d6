#!/usr/bin/env bash
# Runs every test against real parts: a private PostgreSQL and a private sshd on loopback, started here
# and stopped at the end. Debian, as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
work=$(mktemp -d /tmp/kaji-test.XXXXXX)
chmod 755 "$work"
cleanup() {
  [ -n "${KAJI_TEST_SSHD_PID:-}" ] && kill "$KAJI_TEST_SSHD_PID" 2>/dev/null || true
  scripts/stop-pg.sh "$work/pg" || true
  rm -rf "$work"
}
trap cleanup EXIT
eval "$(scripts/start-pg.sh "$work/pg")"
if [ -x scripts/start-sshd.sh ]; then eval "$(scripts/start-sshd.sh "$work/sshd")"; fi
echo "PostgreSQL: $KAJI_TEST_DATABASE_URL" >&2
swift build --build-tests
export KAJI_BIN="$PWD/.build/debug/kaji"
# At most 8 tests at a time: the suite starts many processes (kaji serve, workers, PostgreSQL pools, Chromium),
# and all of them at once on 2 cores starve each other past every deadline.
swift test --skip-build --experimental-maximum-parallelization-width "${KAJI_TEST_PARALLEL:-8}" "$@" 2>&1 | tee "$work/swift-test.log"
# The summary line, again: schemathesis prints a lot after it.
grep -E '^. Test run with ' "$work/swift-test.log" | tail -n 1 || true
# The HTTP API against its OpenAPI document (schemathesis from PyPI, about 15 s): no 5xx, every response as
# documented. Skipped when the run was narrowed with arguments (swift test --filter …).
if [ $# -eq 0 ]; then
  command -v st >/dev/null || python3 -m pip install -q --root-user-action=ignore schemathesis
  scripts/schemathesis.sh
  # The committed generated server (Sources/Server/Generated) against openapi.yaml: the first run builds
  # swift-openapi-generator from the package mirror (minutes), later ones take seconds.
  scripts/openapi-generate.sh --check
fi
