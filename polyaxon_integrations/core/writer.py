"""The writer thread: turns queued events into appended ``.plx`` rows, at least once a second.

The training thread only puts a tuple on a ``SimpleQueue`` (no lock held across I/O, no
formatting); this thread formats rows, appends them to ``events/<kind>/<name>.plx`` and
keeps each series' summary. After every flush it tells the mirror which files changed.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

from .events import JSONL_KINDS, Series, TimestampFormatter, jsonl_row
from .guard import reraise, warn_once

__all__ = ["EventWriter"]

_STOP = object()
_POLL = 0.25  # seconds between the writer's looks at the queue (each wake costs CPU beside training)


class _MetricBuffer:
    """One metric's points since the last write: rows to append, values and (step, ts) to summarize."""

    __slots__ = ("rows", "stem", "values", "when")

    def __init__(self, stem: str) -> None:
        self.stem = stem
        self.rows: list[str] = []
        self.values: list[float | int] = []
        self.when: list[tuple[int | None, float]] = []


class EventWriter:
    """Appends events under ``root``; ``close()`` flushes everything and stops the thread."""

    def __init__(
        self,
        root: Path,
        *,
        flush_interval: float = 1.0,
        on_flush: Callable[[set[str]], None] | None = None,
        stems: dict[str, str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.stems = {} if stems is None else stems  # metric name -> file stem, filled by the caller's side
        self.flush_interval = flush_interval
        self._on_flush = on_flush
        self._queue: SimpleQueue[Any] = SimpleQueue()
        self._pending: dict[str, list[str]] = {}  # relative path -> rows not yet written
        self.series: dict[tuple[str, str], Series] = {}  # (kind, stem) -> summary
        self._metrics: dict[str, _MetricBuffer] = {}  # metric name -> points since the last write
        self._timestamp = TimestampFormatter()
        self.rows_written = 0
        self._wake = threading.Event()
        self._stop_lock = threading.Lock()
        self._stopped = False  # set, under the lock, once the thread takes no more items
        self._thread = threading.Thread(target=self._loop, name="polyaxon-writer", daemon=True)
        self._thread.start()

    # --- caller side -------------------------------------------------------------------

    def put(self, item: tuple[Any, ...]) -> None:
        """Queue ``("metrics", step, ts, {name: value})`` or ``(kind, stem, step, ts, value)``.

        Metric names are mapped to stems here (via ``stems``), not on the caller's thread.
        """
        self._queue.put(item)

    def put_now(self, item: tuple[Any, ...]) -> None:
        """Queue ``item`` and wake the writer at once: a file to copy in (a checkpoint) may be rotated
        away by its framework soon after, so it must not wait for the next look at the queue."""
        self._queue.put(item)
        self._wake.set()

    def call(self, fn: Callable[[], object], timeout: float = 120.0) -> bool:
        """Run ``fn`` on the writer thread, in order with the events, and wait for it (another thread's work
        on the files the writer appends to); run it here once the writer has stopped. True if it ran."""
        with self._stop_lock:
            done: threading.Event | None = None
            if not self._stopped:
                done = threading.Event()
                finished = done

                def run() -> None:
                    try:
                        fn()
                    finally:
                        finished.set()

                self._queue.put(("call", run))
                self._wake.set()
        if done is None:
            fn()
            return True
        return done.wait(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything queued so far is on disk."""
        if not self._thread.is_alive():
            return False
        done = threading.Event()
        self._queue.put(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        self._queue.put(_STOP)
        self._wake.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # --- writer thread -----------------------------------------------------------------

    def _loop(self) -> None:
        """Wake every ``_POLL`` s (or when flushed, or for a file to copy) and take everything queued.

        Blocking on the queue instead would wake this thread at every ``put``: a GIL hand-off
        per ``log_metrics`` call that costs the training thread far more than the call itself.
        """
        deadline = time.monotonic() + self.flush_interval
        while True:
            self._wake.wait(_POLL)
            self._wake.clear()
            while True:
                try:
                    item = self._queue.get_nowait()
                except Empty:
                    break
                if item is _STOP:
                    with self._stop_lock:
                        self._stopped = True
                    self._drain_nowait()
                    self._write()
                    return
                if isinstance(item, threading.Event):
                    self._write()
                    item.set()
                else:
                    self._handle(item)
            if time.monotonic() >= deadline:
                self._write()
                deadline = time.monotonic() + self.flush_interval

    def _drain_nowait(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except Empty:
                return
            if isinstance(item, threading.Event):
                item.set()
            elif item is not _STOP:
                self._handle(item)

    def _handle(self, item: tuple[Any, ...]) -> None:
        try:
            if item[0] == "call":  # a file to copy in, in order with the events
                item[1]()
            elif item[0] == "metrics":  # the hot loop: a row and a buffered value per point, nothing more
                _, step, ts, values = item
                when = (step, ts)
                prefix = f"\n{'' if step is None else step}|{self._timestamp(ts)}|"
                stems, buffers = self.stems, self._metrics
                for name, value in values.items():
                    buffer = buffers.get(name)
                    if buffer is None:
                        buffer = buffers[name] = _MetricBuffer(stems.get(name, name))
                    buffer.rows.append(prefix + (repr(value) if type(value) is float else str(value)))
                    buffer.values.append(value)
                    buffer.when.append(when)
            else:
                kind, stem, step, ts, value = item
                if kind in JSONL_KINDS:
                    self._row(kind, stem, jsonl_row(kind, step, ts, value))
                else:
                    self._row(kind, stem, f"\n{'' if step is None else step}|{self._timestamp(ts)}|{value}")
                self._series(kind, stem).add(step, ts, None)
        except Exception as exc:  # a bad event must not stop the writer
            if reraise():
                raise
            warn_once(f"writer-{type(exc).__name__}", f"polyaxon-integrations: could not record an event: {exc!r}")

    def _series(self, kind: str, stem: str) -> Series:
        key = (kind, stem)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series()
        return series

    def _row(self, kind: str, stem: str, row: str) -> None:
        rel = f"events/{kind}/{stem}.plx"
        rows = self._pending.get(rel)
        if rows is None:
            rows = self._pending[rel] = []
        rows.append(row)

    def _drain_metrics(self) -> None:
        """Move buffered metric points into the pending rows and their series' summaries."""
        for buffer in self._metrics.values():
            if not buffer.values:
                continue
            rel = f"events/metric/{buffer.stem}.plx"
            rows = self._pending.get(rel)
            if rows is None:
                self._pending[rel] = buffer.rows
            else:
                rows.extend(buffer.rows)
            self._series("metric", buffer.stem).add_batch(buffer.values, buffer.when)
            buffer.rows, buffer.values, buffer.when = [], [], []

    def _write(self) -> None:
        self._drain_metrics()
        if not self._pending:
            return
        changed: set[str] = set()
        for rel, rows in self._pending.items():
            if not rows:
                continue
            path = self.root / rel
            try:
                self._append(path, rel, rows)
            except Exception as exc:  # the writer must outlive any one file; the rows stay queued
                if reraise() and not isinstance(exc, OSError):
                    raise
                warn_once(f"writer-io-{rel}", f"polyaxon-integrations: cannot write {path}: {exc}; retrying.")
                continue
            self.rows_written += len(rows)
            rows.clear()
            changed.add(rel)
        if changed and self._on_flush is not None:
            try:
                self._on_flush(changed)
            except Exception as exc:
                if reraise():
                    raise
                warn_once("writer-on-flush", f"polyaxon-integrations: mirror notification failed: {exc!r}")

    def _append(self, path: Path, rel: str, rows: list[str]) -> None:
        kind = rel.split("/", 2)[1]
        header = ""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            header = "" if kind in JSONL_KINDS else f"step|timestamp|{kind}"
        with open(path, "a") as fh:
            fh.write(header + "".join(rows))
        with contextlib.suppress(OSError):
            os.chmod(path, 0o644)
