#!/usr/bin/env bash
# Installs what is missing, builds kaji and runs `kaji demo` on built-in defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --product kaji >&2
exec .build/debug/kaji demo "$@"
