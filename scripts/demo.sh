#!/usr/bin/env bash
# Installs what is missing, builds kaji and sakura-sim (the demo runs the simulator as a child process, found
# next to kaji) and runs `kaji demo` on built-in defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --product kaji >&2
swift build --product sakura-sim >&2
exec .build/debug/kaji demo "$@"
