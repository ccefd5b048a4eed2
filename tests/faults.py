"""A loopback HTTP server that misbehaves on purpose, for fault tests."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FaultServer:
    """Answers every request with ``status`` (after ``delay`` seconds), recording what it saw.

    ``status=0`` resets the connection instead of answering.
    """

    def __init__(self, status: int = 500, delay: float = 0.0, body: dict[str, str] | None = None) -> None:
        self.status = status
        self.delay = delay
        self.body = body or {"detail": "fault injected"}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.bodies: list[bytes] = []
        self.first: list[int] = []  # statuses to answer first, one per request, before ``status``
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(self.rfile.read(length) if length else b"")
                outer.requests.append((self.command, self.path, dict(self.headers)))
                time.sleep(outer.delay)
                status = outer.first.pop(0) if outer.first else outer.status
                if status == 0:  # reset: drop the connection without an answer (RST)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                payload = json.dumps(outer.body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a delay test)
                    self.close_connection = True

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.host = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def closed_port_host() -> str:
    """An address where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def fault_server(status: int = 500, delay: float = 0.0) -> Iterator[FaultServer]:
    with FaultServer(status, delay) as server:
        yield server


@contextmanager
def run_then_fault(monkeypatch: Any, project: str, status: int, delay: float = 0.0, name: str = "r") -> Iterator[Any]:
    """A run created by a server that then answers ``status`` after ``delay`` (0 = reset) to everything.

    Guarded errors become warnings here (as for users), so the test sees what training would see.
    """
    from polyaxon_integrations import tracking

    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")
    with fault_server(status=201) as server:
        server.body = {"uuid": uuid.uuid4().hex, "name": name}
        monkeypatch.setenv("POLYAXON_HOST", server.host)
        run = tracking.init(project=project, name=name)
        assert run is not None
        server.status, server.delay = status, delay
        yield run


class CuttingProxy:
    """A loopback TCP proxy to ``upstream`` that cuts the first ``cuts`` connections sending more than
    ``after`` bytes (an upload interrupted midway); every other connection passes through untouched."""

    def __init__(self, upstream: str, after: int = 1 << 20, cuts: int = 1) -> None:
        host, port = upstream.rsplit("//", 1)[-1].rsplit(":", 1)
        self._upstream = (host, int(port))
        self.after, self.cuts_left, self.cut = after, cuts, 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self._open:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, counted: bool) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    break
                sent += len(data)
                if counted and sent > self.after:
                    with self._lock:
                        cut = self.cuts_left > 0
                        if cut:
                            self.cuts_left -= 1
                            self.cut += 1
                    if cut:
                        for sock in (source, target):
                            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                            sock.close()
                        return
                    counted = False
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._open = False
        self._listener.close()


class PausableProxy:
    """A loopback TCP proxy in front of ``target`` (``http://127.0.0.1:PORT``) that can hang.

    While paused it accepts connections and never answers them (a hung server: TCP works,
    HTTP does not). ``resume()`` drops the connections it held, so their requests never reach
    the target (as when a stuck server is restarted), and forwards new ones again.
    """

    def __init__(self, target: str, paused: bool = False) -> None:
        self._target = ("127.0.0.1", int(target.rsplit(":", 1)[1]))
        self.paused = paused
        self.answer_delay = 0.0  # > 0: requests reach the target at once, its answers come this late (a slow server)
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.host = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> PausableProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        self._listener.close()
        self.resume()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        with self._lock:
            self.paused = False
            held, self._held = self._held, []
        for conn in held:
            conn.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self.paused:
                    self._held.append(conn)
                    continue
            threading.Thread(target=self._forward, args=(conn,), daemon=True).start()

    def _forward(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._target, timeout=10)
        except OSError:
            conn.close()
            return
        upstream.settimeout(None)

        def pipe(source: socket.socket, sink: socket.socket) -> None:
            delay = self.answer_delay if source is upstream else 0.0
            try:
                while chunk := source.recv(65536):
                    if delay:
                        time.sleep(delay)
                        delay = 0.0
                    while self.paused and not self._closed:  # hang the connections already open too
                        time.sleep(0.05)
                    sink.sendall(chunk)
            except OSError:
                pass
            finally:
                for sock in (source, sink):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()
        pipe(conn, upstream)
        conn.close()
        upstream.close()


@contextmanager
def tmpfs(path: Any, size: str = "2m") -> Iterator[Any]:
    """A real small tmpfs mounted at ``path`` (needs root); the test is skipped, with the reason, where it cannot."""
    import shutil
    import subprocess

    import pytest

    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command: disk-fault tests need a real small tmpfs")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); needs root / CAP_SYS_ADMIN")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def remount(path: Any, mode: str) -> None:
    """Remount the tmpfs at ``path`` ``ro`` or ``rw``."""
    import subprocess

    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], capture_output=True, check=True)


def fill(path: Any) -> Any:
    """Fill the file system holding ``path`` with one file; returns it (delete it to free the space)."""
    ballast = path / "ballast.bin"
    with open(ballast, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    return ballast
