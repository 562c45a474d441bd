#!/usr/bin/env bash
# Installs what the project needs, builds it, and starts a single-node cluster in the foreground.
# Extra arguments go to p2p-node (see build/bin/p2p-node --help). Ctrl-C drains and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"

state=${XDG_STATE_HOME:-$HOME/.local/state}/p2p-orchestrator
for arg in "$@"; do
  case "$arg" in --data-dir=*) state=${arg#--data-dir=} ;; esac
done
cat <<TEXT

Starting p2p-node. Once it logs "ready":
  curl http://127.0.0.1:8770/admin/health
  curl -H "Authorization: Bearer \$(cat $state/auth-token)" http://127.0.0.1:8770/status
  curl -N -H "Authorization: Bearer \$(cat $state/auth-token)" http://127.0.0.1:8770/events

TEXT
exec build/bin/p2p-node "$@"
