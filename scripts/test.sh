#!/usr/bin/env bash
# Set up both environments, then lint, type-check and run the whole test suite.
# The suite starts its own Polyaxon sandbox server on a free loopback port and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff";   .venv/bin/ruff check polyaxon_integrations tests scripts examples benchmarks
echo "== mypy";   .venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest "$@"
