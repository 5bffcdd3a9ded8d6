#!/usr/bin/env bash
# Installs what Kaji's scripts need and is missing: PostgreSQL server binaries, OpenSSH server and client,
# python3, promtool (Debian's prometheus package: the tests check metrics and SLO rules with it; apt does not
# start its service, see policy-rc.d below).
# Debian, as root. Safe to run again.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v chromium >/dev/null 2>&1 || need+=(chromium)   # the dashboard's browser tests (headless, driven by python3)
[ -x /usr/bin/python3 ] || need+=(python3)   # the simulated node tools and the scripts' free-port probe
command -v promtool >/dev/null 2>&1 || need+=(prometheus)   # promtool check metrics / check rules / test rules
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Keep apt from starting system services (no system sshd or cluster on 0.0.0.0).
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
command -v swift >/dev/null 2>&1 || { echo "swift not found on PATH (expected the Swift 6 toolchain, e.g. /opt/swift/usr/bin)" >&2; exit 1; }
