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
mkdir -p .tmp/demo
rm -f .tmp/demo/*.log
for example in examples/quickstart.py examples/media_classifier.py examples/lightning_regression.py \
    examples/keras_regression.py examples/transformers_tiny_classifier.py; do
  echo "== $example"
  .venv/bin/python "$example" 2>&1 | tee ".tmp/demo/$(basename "$example" .py).log"
done
echo
echo "== Your runs in Polyaxon's UI ('curves': each metric over steps; 'media': images, histograms, curves, confusion):"
grep -h -E '^run |^  (UI|curves|media):' .tmp/demo/*.log || true
if [ "$STOP" = 1 ]; then
  .venv/bin/python scripts/sandbox.py stop --dir .tmp/sandbox
  echo "server stopped"
else
  echo
  echo "The server keeps running at $HOST (UI: $HOST/ui/); stop it with:"
  echo "  .venv/bin/python scripts/sandbox.py stop --dir .tmp/sandbox    (or run ./scripts/demo.sh --stop)"
fi
