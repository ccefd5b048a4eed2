#!/usr/bin/env python3
"""Start and stop a local Polyaxon CE sandbox server for the demo and the tests.

    python scripts/sandbox.py start --dir .tmp/sandbox [--port 31833]   # prints the host
    python scripts/sandbox.py stop --dir .tmp/sandbox

The server runs from the server virtual environment (``.venv-server``, made by
``scripts/setup.sh``), on loopback only, with a data folder and ``HOME`` of its own, so
it never touches the user's Polyaxon config. It is stopped by the PID it recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_VENV = Path(os.environ.get("PLX_SERVER_VENV", ROOT / ".venv-server"))
FORBIDDEN_PORTS = {8000}


@dataclass
class Sandbox:
    host: str
    port: int
    pid: int
    dir: Path

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    @property
    def artifacts_store(self) -> Path:
        return self.dir / "store"

    def stop(self, timeout: float = 15.0) -> None:
        stop_pid(self.pid, timeout)
        (self.dir / "sandbox.json").unlink(missing_ok=True)


def free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in FORBIDDEN_PORTS:
            return port


def _healthy(host: str) -> bool:
    try:
        with urllib.request.urlopen(f"{host}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start(directory: Path, port: int | None = None, timeout: float = 120.0) -> Sandbox:
    """Start a sandbox in ``directory``; return once ``/healthz`` answers, or raise with the log tail."""
    directory = Path(directory).resolve()
    port = port or free_port()
    if port in FORBIDDEN_PORTS:
        raise SystemExit(f"port {port} is reserved on this machine; pick another")
    home = directory / "home"
    store = directory / "store"
    for path in (home, store):
        path.mkdir(parents=True, exist_ok=True)
    haupt = SERVER_VENV / "bin" / "haupt"
    if not haupt.exists():
        raise SystemExit(f"{haupt} not found: run scripts/setup.sh first")
    environ = {
        "PATH": f"{SERVER_VENV / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "POLYAXON_UI_IN_SANDBOX": "true",
        "POLYAXON_UI_OFFLINE": "true",
    }
    log = open(directory / "server.log", "ab")
    process = subprocess.Popen(
        [
            str(haupt),
            "sandbox",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--path",
            str(store),
        ],
        cwd=directory,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    host = f"http://127.0.0.1:{port}"
    sandbox = Sandbox(host=host, port=port, pid=process.pid, dir=directory)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Polyaxon sandbox exited with {process.returncode}:\n{_tail(sandbox.log)}")
        if _healthy(host):
            (directory / "sandbox.json").write_text(json.dumps({"host": host, "port": port, "pid": process.pid}))
            return sandbox
        time.sleep(0.25)
    stop_pid(process.pid)
    raise RuntimeError(f"the Polyaxon sandbox did not answer /healthz within {timeout:.0f}s:\n{_tail(sandbox.log)}")


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM the server's process group, then SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                finished, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child: poll for existence
                finished = 0 if _alive(pid) else pid
            if finished:
                return
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("--dir", type=Path, default=ROOT / ".tmp" / "sandbox")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    state = args.dir / "sandbox.json"
    if args.command == "start":
        if state.exists():
            info = json.loads(state.read_text())
            if _alive(info["pid"]) and _healthy(info["host"]):
                print(info["host"])
                return 0
        print(start(args.dir, args.port).host)
        return 0
    if state.exists():
        info = json.loads(state.read_text())
        stop_pid(info["pid"])
        state.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
