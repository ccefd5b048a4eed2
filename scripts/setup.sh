#!/usr/bin/env bash
# Make the virtual environments this project uses, from scratch if needed:
#   .venv         the package (editable) with its test tools and the ML frameworks (torch CPU)
#   .venv-server  the Polyaxon CE sandbox server (haupt) and the official client, for interop tests
#   .venv-floors  the package with the oldest version of every framework we declare (scripts/compat.py)
# Re-running is cheap: a stamp records what each environment was built from.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

pip_quiet() {  # pip's own output goes to a log; shown only when pip fails
  local log; log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -40 >&2
    rm -f "$log"; return 1
  fi
  rm -f "$log"
}

build() {  # build VENV STAMP_INPUT PIP_ARGS...
  local venv=$1 inputs=$2; shift 2
  local stamp; stamp=$(cat $inputs | sha1sum | cut -c1-16)
  if [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$stamp" ]; then
    echo "setup: $venv is up to date"; return
  fi
  echo "setup: building $venv ..."
  rm -rf "$venv"
  "$PY" -m venv "$venv"
  pip_quiet "$venv/bin/pip" install --disable-pip-version-check -q --upgrade pip
  pip_quiet "$venv/bin/pip" install --disable-pip-version-check -q "$@"
  echo "$stamp" > "$venv/.stamp"
}

# Debian's chromium drives the UI tests (Playwright never downloads a browser of its own here).
if [ ! -x /usr/bin/chromium ] && [ -z "${SKIP_CHROMIUM:-}" ]; then
  echo "setup: installing Debian's chromium ..."
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  pip_quiet $SUDO apt-get install -y -q chromium || {
    pip_quiet $SUDO apt-get update -q && pip_quiet $SUDO apt-get install -y -q chromium; }
fi

build .venv-server "scripts/server-requirements.txt" -r scripts/server-requirements.txt
build .venv "scripts/setup.sh pyproject.toml scripts/constraints.txt setup.py" \
  -c scripts/constraints.txt "torch==2.13.0" -e ".[dev,all]"
# The declared floors, all in one environment (they co-install): CI tests them beside the newest.
floors=$("$PY" scripts/compat.py --requirements floors)
mapfile -t FLOORS <<< "$floors"
build .venv-floors "scripts/setup.sh pyproject.toml scripts/compat.py setup.py" "${FLOORS[@]}" -e .
