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
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.requests.append((self.command, self.path, dict(self.headers)))
                time.sleep(outer.delay)
                if outer.status == 0:  # reset: drop the connection without an answer (RST)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                payload = json.dumps(outer.body).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

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
