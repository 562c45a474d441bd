#!/usr/bin/env bash
# Installs what the project needs, builds it, and starts a single-node cluster in the foreground.
# Extra arguments go to p2p-node (see build/bin/p2p-node --help). Ctrl-C drains and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"

state=${XDG_STATE_HOME:-$HOME/.local/state}/p2p-orchestrator
runner_given=no
for arg in "$@"; do
  case "$arg" in
    --data-dir=*) state=${arg#--data-dir=} ;;
    --work-type=*|--work-type) runner_given=yes ;;
  esac
done
# The built-in workload (p2p-workload: Hex self-play, training, matches) runs the node's work
# unless other commands are given.
workload=()
if [ "$runner_given" = no ]; then
  program=$PWD/build/bin/p2p-workload
  workload=("--work-type=selfplay='$program' item" "--work-type=training='$program' item"
            "--work-type=match='$program' item")
fi
cat <<TEXT

Starting p2p-node. Once it logs "ready":
  curl http://127.0.0.1:8770/admin/health
  curl -H "Authorization: Bearer \$(cat $state/auth-token)" http://127.0.0.1:8770/status
  curl -N -H "Authorization: Bearer \$(cat $state/auth-token)" http://127.0.0.1:8770/events
Queue self-play for the built-in workload and watch it complete:
  curl -H "Authorization: Bearer \$(cat $state/auth-token)" http://127.0.0.1:8770/work/add \\
       -d '{"work_type":"selfplay","config":{"agent":"mcts:50","games":20}}'
  curl -H "Authorization: Bearer \$(cat $state/auth-token)" http://127.0.0.1:8770/work/list

TEXT
exec build/bin/p2p-node "${workload[@]}" "$@"
