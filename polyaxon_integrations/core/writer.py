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
from .guard import get_logger, reraise, warn_once

__all__ = ["EventWriter", "append_rows"]

_STOP = object()
_POLL = 0.25  # seconds between the writer's looks at the queue (each wake costs CPU beside training)


def append_rows(path: Path, text: str, header: str = "") -> None:
    """Append ``text`` to ``path``, after ``header`` when the file is new or empty; all of it or nothing.

    A failed write (disk full, read-only) is cut back to the file's size before it, so a retry
    neither repeats half a row nor misses the header of a file that was created empty while
    the disk was full (the server refuses a ``.plx`` file without its header line).
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
        path.parent.mkdir(parents=True, exist_ok=True)
    data = ((header if size == 0 else "") + text).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise
    finally:
        os.close(fd)
    if size == 0:
        with contextlib.suppress(OSError):
            os.chmod(path, 0o644)


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
        self.failing: set[str] = set()  # files whose last write failed (their rows are still pending)
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
                    self._report_unwritten()
                    return
                if isinstance(item, threading.Event):
                    self._write()
                    item.set()
                else:
                    self._handle(item)
            if time.monotonic() >= deadline:
                self._write()
                deadline = time.monotonic() + self.flush_interval

    def _report_unwritten(self) -> None:
        """At close: name the rows a disk fault kept out of the folder (they were retried until now)."""
        lost = {rel: len(rows) for rel, rows in self._pending.items() if rows}
        if lost:
            shown = ", ".join(f"{count} row(s) of {rel}" for rel, count in sorted(lost.items())[:10])
            warn_once(
                f"writer-lost-{self.root}",
                f"polyaxon-integrations: could not write {shown}{' ...' if len(lost) > 10 else ''} to {self.root} "
                "before the run ended (disk full or read-only); they are not in the run.",
            )

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
            elif item[0] == "job":  # rich events (core/rich.py): encode here, then their rows as usual
                for event in item[1]() or ():
                    self._handle(event)
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
        except OSError as exc:  # the disk, not a bug: never re-raised, the writer goes on
            warn_once(f"writer-os-{exc.errno}", f"polyaxon-integrations: could not record an event: {exc}")
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
            values, when = buffer.values, buffer.when
            buffer.rows, buffer.values, buffer.when = [], [], []
            try:  # the summary is a convenience: a value it cannot count (an int beyond float) costs only itself
                self._series("metric", buffer.stem).add_batch(values, when)
            except (ArithmeticError, ValueError, TypeError) as exc:
                warn_once(
                    f"writer-summary-{buffer.stem}",
                    f"polyaxon-integrations: metric {buffer.stem!r}'s summary skips a batch it cannot count: {exc}",
                )

    def _write(self) -> None:
        """Write what is pending; nothing that goes wrong here may end the writer thread (it warns once)."""
        try:
            self._write_pending()
        except Exception as exc:
            if reraise():
                raise
            warn_once(f"writer-{type(exc).__name__}", f"polyaxon-integrations: writing events failed: {exc!r}")

    def _write_pending(self) -> None:
        self._drain_metrics()
        if not self._pending:
            return
        changed: set[str] = set()
        recovered = 0
        for rel, rows in self._pending.items():
            if not rows:
                continue
            path = self.root / rel
            try:
                self._append(path, rel, rows)
            except Exception as exc:  # the writer must outlive any one file; the rows stay queued
                if reraise() and not isinstance(exc, OSError):
                    raise
                warn_once(  # once per cause, not once per file: a full disk fails every file
                    f"writer-io-{self.root}-{getattr(exc, 'errno', type(exc).__name__)}",
                    f"polyaxon-integrations: cannot write {path}: {exc}; its rows (and those of any other file "
                    "that fails the same way) are kept in memory and written at every flush until it works.",
                )
                self.failing.add(rel)
                continue
            self.rows_written += len(rows)
            rows.clear()
            changed.add(rel)
            if rel in self.failing:
                self.failing.discard(rel)
                recovered += 1
        if recovered:
            get_logger().warning(
                "polyaxon-integrations: %d event file(s) under %s written again; no row was lost.", recovered, self.root
            )
        if changed and self._on_flush is not None:
            try:
                self._on_flush(changed)
            except Exception as exc:
                if reraise():
                    raise
                warn_once("writer-on-flush", f"polyaxon-integrations: mirror notification failed: {exc!r}")

    def _append(self, path: Path, rel: str, rows: list[str]) -> None:
        kind = rel.split("/", 2)[1]
        append_rows(path, "".join(rows), "" if kind in JSONL_KINDS else f"step|timestamp|{kind}")
