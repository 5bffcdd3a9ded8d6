#!/usr/bin/env bash
# Starts a private OpenSSH sshd on 127.0.0.1 for tests and the demo; it also serves every simulated node.
#
#   eval "$(scripts/start-sshd.sh DIR)"      # DIR: an empty or new directory for keys, config, logs, node state
#   ...; kill "$KAJI_TEST_SSHD_PID"
#
# Prints only `export` lines: KAJI_TEST_SSHD_PORT, KAJI_TEST_SSHD_HOST_KEY_PUB, KAJI_TEST_SSH_KEY,
# KAJI_TEST_SSH_KEY_PUB, KAJI_TEST_SSHD_PID, KAJI_TEST_SSHD_DIR, KAJI_SIM_STATE.
# Needs openssh-server (not installed here) and python3 (/usr/bin/python3, for the node tools).
#
# Simulated nodes: every session runs through scripts/node-tools/node-shell (ForceCommand). When the client
# sends the SSH environment variables KAJI_NODE (node name) and KAJI_SIM_WORLD (one per simulator), the
# simulated kubeadm, kubectl, velero and argocd come first on PATH and keep their state under
# $KAJI_SIM_STATE/<world>/. Without KAJI_NODE a session is a plain root shell. HOME is DIR/home, so root's
# own ~/.bashrc (which Debian's bash reads for ssh commands) cannot add noise to stderr.
set -euo pipefail

D=${1:?usage: start-sshd.sh DIR}
mkdir -p "$D" /run/sshd
D=$(cd "$D" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/scripts/node-tools"
[ -x /usr/sbin/sshd ] || { echo "start-sshd.sh: /usr/sbin/sshd missing; apt-get install openssh-server" >&2; exit 1; }

rm -f "$D/host_ed25519" "$D/host_ed25519.pub" "$D/client_ed25519" "$D/client_ed25519.pub"
ssh-keygen -q -t ed25519 -N '' -C kaji-test-host -f "$D/host_ed25519" >/dev/null
ssh-keygen -q -t ed25519 -N '' -C kaji-test-client -f "$D/client_ed25519" >/dev/null
cp "$D/client_ed25519.pub" "$D/authorized_keys"
chmod 600 "$D/authorized_keys" "$D/host_ed25519" "$D/client_ed25519"
mkdir -p "$D/nodes" "$D/home"
chmod +x "$TOOLS/node-shell" "$TOOLS"/bin/* 2>/dev/null || true

PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat >"$D/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $D/host_ed25519
PidFile $D/sshd.pid
AuthorizedKeysFile $D/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel VERBOSE
MaxStartups 200:30:400
MaxSessions 100
AcceptEnv KAJI_NODE KAJI_SIM_WORLD
SetEnv KAJI_SIM_STATE=$D/nodes KAJI_NODE_TOOLS=$TOOLS HOME=$D/home
ForceCommand $TOOLS/node-shell
CONF
/usr/sbin/sshd -t -f "$D/sshd_config"
/usr/sbin/sshd -D -e -f "$D/sshd_config" >"$D/sshd.log" 2>&1 </dev/null &
PID=$!

for _ in $(seq 1 100); do
    if python3 -c "import socket,sys;s=socket.socket();s.settimeout(0.2);sys.exit(0 if s.connect_ex(('127.0.0.1',$PORT))==0 else 1)"; then
        break
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "start-sshd.sh: sshd exited; see $D/sshd.log:" >&2; cat "$D/sshd.log" >&2; exit 1
    fi
    sleep 0.05
done

echo "export KAJI_TEST_SSHD_PORT=$PORT"
echo "export KAJI_TEST_SSHD_HOST_KEY_PUB=$D/host_ed25519.pub"
echo "export KAJI_TEST_SSH_KEY=$D/client_ed25519"
echo "export KAJI_TEST_SSH_KEY_PUB=$D/client_ed25519.pub"
echo "export KAJI_TEST_SSHD_PID=$PID"
echo "export KAJI_TEST_SSHD_DIR=$D"
echo "export KAJI_SIM_STATE=$D/nodes"
