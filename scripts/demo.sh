#!/usr/bin/env bash
# Set everything up, start a local Polyaxon server, run the examples against it and show what the
# server recorded. The server keeps running so you can open the printed UI links; pass --stop to
# stop it at the end (or run `python scripts/sandbox.py stop`).
set -euo pipefail
cd "$(dirname "$0")/.."
STOP=0
for arg in "$@"; do [ "$arg" = "--stop" ] && STOP=1; done
bash scripts/setup.sh
HOST=$(.venv/bin/python scripts/sandbox.py start --dir .tmp/sandbox)
echo "Polyaxon server: $HOST (UI: $HOST/ui/)"
export POLYAXON_HOST=$HOST
export POLYAXON_OFFLINE_ROOT=$PWD/.tmp/offline POLYAXON_ARTIFACTS_ROOT=$PWD/.tmp/artifacts
export POLYAXON_ARCHIVES_ROOT=$PWD/.tmp/archives POLYAXON_NO_CONFIG=true
for example in examples/quickstart.py; do
  echo "== $example"
  .venv/bin/python "$example"
done
if [ "$STOP" = 1 ]; then
  .venv/bin/python scripts/sandbox.py stop --dir .tmp/sandbox
  echo "server stopped"
else
  echo "The server is still running at $HOST; stop it with: .venv/bin/python scripts/sandbox.py stop --dir .tmp/sandbox"
fi
