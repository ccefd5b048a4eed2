#!/usr/bin/env bash
# Set up the environments, then lint, type-check and run the whole test suite, then (when no pytest arguments
# are given) the adapters' tests again with the oldest framework versions we declare (.venv-floors).
# The suite starts its own Polyaxon sandbox server on a free loopback port and stops it at the end.
# The whole compatibility matrix (every tested version, each in a fresh venv) is `.venv/bin/nox`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff";   .venv/bin/ruff check polyaxon_integrations tests scripts examples benchmarks noxfile.py
echo "== mypy";   .venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest "$@"
if [ $# -eq 0 ]; then
  floor_tests=$(.venv/bin/python scripts/compat.py --tests floors)
  mapfile -t FLOOR_TESTS <<< "$floor_tests"
  echo "== pytest, oldest supported frameworks"; .venv-floors/bin/python -m pytest "${FLOOR_TESTS[@]}"
fi
