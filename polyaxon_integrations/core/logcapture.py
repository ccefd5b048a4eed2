"""Copies of what the process prints, for the run's Logs tab (``plxlogs/logs.jsonl``).

``sys.stdout`` and ``sys.stderr`` are wrapped by a tee that writes through to the real
stream first (so the process prints exactly as before) and then puts the text on a
queue: a timestamp and a queue put, nothing else, on the printing thread. A background
thread turns the queued text into lines (a carriage return rewrites the line, as a
terminal shows it, so a progress bar leaves its final state, not every redraw) and
appends them as JSON lines, the format the server's logs endpoint reads.

One tee per stream serves every open run; it removes itself when the last run ends,
unless someone replaced the stream after it (then it stays, inert, and forwards).
Logging handlers that write to the wrapped stream are pointed at the tee for the same
time, so framework loggers (created at import, before the run) are captured too.
Binary writes to ``sys.stdout.buffer`` and output of C code or subprocesses are not.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from queue import Empty, SimpleQueue
from typing import IO, Any

__all__ = ["LOGS_FILE", "LogCapture", "LogLines"]

LOGS_FILE = "plxlogs/logs.jsonl"
_MAX_PARTIAL = 64 * 1024  # a "line" that never ends is cut here
_STREAMS = ("stdout", "stderr")
# The container Polyaxon calls the main one: its CLI shows these lines without --all-containers.
_CONTAINER = "polyaxon-main"

_lock = threading.Lock()


class _Tee:
    """Stands in for ``sys.stdout``/``sys.stderr``: writes through, then queues a copy for each open run."""

    def __init__(self, stream: IO[str], index: int) -> None:
        self._stream = stream
        self._index = index
        self._sinks: tuple[SimpleQueue[tuple[float, int, str]], ...] = ()

    @property
    def wrapped(self) -> IO[str]:
        return self._stream

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        sinks = self._sinks
        if sinks and text and type(text) is str:
            item = (time.time(), self._index, text)
            for sink in sinks:
                sink.put(item)
        return written

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, buffer, ...: the real stream's
        return getattr(self._stream, name)


def _hostname() -> str:
    """The node name, as the logs endpoint shows it (``socket`` would cost an import for the same answer)."""
    return os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "localhost")


def _redirect_handlers(old: object, new: object) -> None:
    """Point logging's stream handlers that write to ``old`` at ``new``."""
    logging = sys.modules.get("logging")
    if logging is None:  # nobody has set up logging: no handler can hold the old stream
        return
    loggers: list[Any] = [logging.getLogger()]
    loggers += [item for item in list(logging.Logger.manager.loggerDict.values()) if isinstance(item, logging.Logger)]
    for logger in loggers:
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler and handler.stream is old:
                handler.setStream(new)


def _attach(sink: SimpleQueue[tuple[float, int, str]]) -> list[_Tee]:
    tees = []
    with _lock:
        for index, name in enumerate(_STREAMS):
            current = getattr(sys, name)
            if current is None:  # pythonw, some daemons
                continue
            if not isinstance(current, _Tee):
                current = _Tee(current, index)
                setattr(sys, name, current)
                _redirect_handlers(current.wrapped, current)
            current._sinks = (*current._sinks, sink)
            tees.append(current)
    return tees


def _detach(sink: SimpleQueue[tuple[float, int, str]], tees: list[_Tee]) -> None:
    with _lock:
        for tee in tees:
            tee._sinks = tuple(s for s in tee._sinks if s is not sink)
            name = _STREAMS[tee._index]
            if not tee._sinks and getattr(sys, name) is tee:
                setattr(sys, name, tee.wrapped)
                _redirect_handlers(tee, tee.wrapped)


def _forget_in_child() -> None:
    """After ``fork`` no thread drains the queues: stop filling them (DataLoader workers print too)."""
    for name in _STREAMS:
        stream = getattr(sys, name, None)
        if isinstance(stream, _Tee):
            stream._sinks = ()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


class LogLines:
    """Assembles written text into log lines (per stream) and formats them as the server's JSON lines."""

    def __init__(self) -> None:
        self._partial = ["", ""]
        self._identity = {"node": _hostname(), "pod": f"pid-{os.getpid()}", "container": _CONTAINER}

    def feed(self, ts: float, index: int, text: str) -> list[str]:
        """The JSON rows (each starting with a newline) that ``text`` completes."""
        pieces = (self._partial[index] + text).split("\n")
        partial = pieces.pop()
        rows = [self._row(ts, line) for line in pieces]
        cut = partial.rstrip("\r").rfind("\r")  # a redrawn line: keep its latest state (and a trailing \r)
        if cut >= 0:
            partial = partial[cut + 1 :]
        if len(partial) > _MAX_PARTIAL:
            rows.append(self._row(ts, partial))
            partial = ""
        self._partial[index] = partial
        return [row for row in rows if row]

    def finish(self, ts: float) -> list[str]:
        """Rows for the lines still open (the process is done printing them)."""
        rows = [self._row(ts, partial) for partial in self._partial]
        self._partial = ["", ""]
        return [row for row in rows if row]

    def _row(self, ts: float, line: str) -> str:
        line = line.rstrip()
        if "\r" in line:  # what a terminal would show: the text after the last carriage return
            line = line.rsplit("\r", 1)[1]
        if not line.strip():
            return ""
        return "\n" + json.dumps({"timestamp": _iso(ts), **self._identity, "value": line}, ensure_ascii=False)


class LogCapture:
    """One run's copy of stdout/stderr: ``start()`` on the run's thread, ``drain()`` on a background one."""

    def __init__(self) -> None:
        self._queue: SimpleQueue[tuple[float, int, str]] = SimpleQueue()
        self._tees: list[_Tee] = []
        self._lines = LogLines()
        self.active = False

    def start(self) -> None:
        self._tees = _attach(self._queue)
        self.active = True

    def stop(self) -> None:
        """Give the streams back (if still ours); what was printed until now is still drained."""
        if self.active:
            self.active = False
            _detach(self._queue, self._tees)
            self._tees = []

    def drain(self, final: bool = False) -> list[str]:
        """Rows for everything printed since the last call; with ``final``, the unfinished lines too."""
        rows: list[str] = []
        feed = self._lines.feed
        while True:
            try:
                ts, index, text = self._queue.get_nowait()
            except Empty:
                break
            rows += feed(ts, index, text)
        if final:
            rows += self._lines.finish(time.time())
        return rows
