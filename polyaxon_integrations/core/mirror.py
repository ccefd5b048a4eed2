"""The mirror: a background thread that runs the reconcile while the run lasts.

It replays no queue of calls: each cycle, :class:`~.reconcile.Reconciler` compares the run
(its state, lineage and folder) with what the server confirmed and sends the difference, so
repeated changes coalesce and a later retry or ``sync`` sends the latest values. Growing files
are re-sent on a budget (:meth:`Mirror._due`). A failure never reaches the training thread:
it backs off and warns once per cause; what is not confirmed stays pending in the folder's
record for ``polyaxon-integrations sync``. The thread cannot die of an unexpected error.

All of the mirror's state is under one condition variable; waiting uses it, never a sleep.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .exceptions import ApiError, AuthenticationError, ServerUnreachableError
from .guard import warn_once
from .reconcile import Reconciler

__all__ = ["Mirror"]

_MAX_BACKOFF = 30.0
_MIN_INTERVAL = 5.0  # seconds between two uploads of the same file, early in a run...
_MAX_INTERVAL = 15.0  # ...growing with the run's age to this: a long run re-sends less often

Wanted = Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]]


class Mirror:
    """Keeps one run on the server in step with its folder."""

    def __init__(
        self,
        reconciler: Reconciler,
        wanted: Wanted,
        *,
        sync_hint: str,
        before: Callable[[], None] | None = None,
    ) -> None:
        self._reconciler = reconciler
        self._wanted = wanted  # () -> (run JSON, lineage entries): what the server should hold
        self._sync_hint = sync_hint
        self._before = before  # first thing on the thread (fetching what a resumed run has on the server)
        self._cv = threading.Condition()
        self._changes = 1  # bumped by every mark(); a step that began at N and ended clean confirms N
        self._clean = 0  # the newest change count a clean step confirmed
        self._hints: set[str] = set()  # files changed since their last upload (the writer says which)
        self._sent: dict[str, tuple[int, float]] = {}  # path -> (bytes sent so far, when last): the budget
        self._closing = False
        self._held = False
        self._flushing = 0
        self._blocked = False  # credentials rejected: nothing more can be sent this session
        self._abandoned = False
        self._busy = False
        self._last_step = -math.inf
        self._first = True  # the first step looks at the whole folder (what an earlier process left unsent)
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="polyaxon-mirror", daemon=True)

    def start(self) -> None:
        """Begin mirroring (once the run's recorder exists: the first step reads its lineage)."""
        self._thread.start()

    @property
    def bytes_uploaded(self) -> int:
        return self._reconciler.bytes_sent

    # --- called from the training thread: cheap, never blocks on the network ------------

    def mark(self, **_: Iterable[str]) -> None:
        """Something in the run changed (inputs, outputs, a status...): reconcile soon."""
        with self._cv:
            self._changes += 1
            self._cv.notify_all()

    def files_changed(self, paths: Iterable[str]) -> None:
        """Called by the writer after a flush; uploads follow the budget in :meth:`_due`."""
        with self._cv:
            self._hints.update(paths)
            self._cv.notify_all()

    def add_lineage(self, entries: Iterable[dict[str, Any]]) -> None:
        """New lineage entries are in the run's lineage file: reconcile soon."""
        self.mark()

    def hold(self) -> None:
        """``end()`` is about to finish the run: send nothing until :meth:`close`, which sends it all at once."""
        with self._cv:
            self._held = True

    def close(self, timeout: float) -> bool:
        """Stop after sending what is left, waiting at most ``timeout`` s; True if the server has everything."""
        with self._cv:
            self._closing = True
            self._changes += 1
            self._cv.notify_all()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout)
        with self._cv:
            self._abandoned = True  # past the deadline: what is left is for `sync`, stop retrying
            self._cv.notify_all()
            in_sync = self._in_sync()
        if not in_sync and self._thread.is_alive():  # a step still waits on the server: say so in the folder now
            self._reconciler.save(pending=True)
        return in_sync

    def wait_idle(self, timeout: float) -> bool:
        """Block until the server has everything marked so far (``flush``); True if reached.

        Files changed since their last upload are sent now, not after the re-send interval.
        """
        deadline = time.monotonic() + timeout
        with self._cv:
            self._flushing += 1
            self._changes += 1
            target = self._changes
            self._cv.notify_all()
            try:
                while self._clean < target:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._blocked or not self._thread.is_alive():
                        return False
                    self._cv.wait(left)
                return True
            finally:
                self._flushing -= 1

    @property
    def abandoned(self) -> bool:
        return self._abandoned

    @property
    def in_sync(self) -> bool:
        with self._cv:
            return self._in_sync()

    def _in_sync(self) -> bool:
        return self._clean >= self._changes and not self._hints and not self._blocked

    # --- worker ------------------------------------------------------------------------

    def _due(self, rel: str, stat: tuple[int, int]) -> bool:
        """Whether a changed file goes now: total bytes sent stay within a constant factor of its size.

        Event files only grow and are re-sent whole, so uploading on every change would cost
        O(n^2) bytes over a long run. A file is sent again only while (bytes already sent for it
        + its size) <= 3 x its size + 64 KiB, and at most every :meth:`_interval` seconds; so
        sends get rarer as the file grows (each about 1.5x the last) and the total stays within
        about 4x the final size, the final upload at ``end()`` included.
        """
        size = stat[0]
        sent, when = self._sent.get(rel, (0, -math.inf))
        if not (self._closing or self._flushing):
            if sent and time.monotonic() - when < self._interval():
                return False
            if sent and sent + size > 3 * size + 65536:
                return False
        self._sent[rel] = (sent + size, time.monotonic())
        return True

    def _interval(self) -> float:
        """Seconds between two uploads of a changed file: 5 s at first (live curves while one watches a
        new run), then a twentieth of the run's age, up to 15 s (each upload costs CPU beside training)."""
        return min(_MAX_INTERVAL, max(_MIN_INTERVAL, (time.monotonic() - self._started) / 20))

    def _wait_for_work(self) -> tuple[int, set[str] | None] | None:
        """Under the lock: wait until a step is worth it; (change count, hints or None for a full scan)."""
        with self._cv:
            while True:
                if self._blocked or self._abandoned:
                    return None
                if self._closing and self._in_sync() and not self._first:
                    return None
                now = time.monotonic()
                if self._held and not self._closing:
                    self._cv.wait()
                    continue
                files_due = bool(self._hints) and now - self._last_step >= self._interval()
                if self._first or self._closing or self._flushing or self._changes > self._clean or files_due:
                    full = self._first or self._closing
                    hints = None if full else set(self._hints)
                    return self._changes, hints
                timeout = self._interval() - (now - self._last_step) if self._hints else None
                self._cv.wait(timeout)

    def _loop(self) -> None:
        backoff = 0.0
        if self._before is not None:
            try:
                self._before()
            except Exception as exc:  # never fatal: the run goes on, its files replace the server's
                warn_once("mirror-before", f"polyaxon-integrations: {exc}")
        while True:
            work = self._wait_for_work()
            if work is None:
                return
            changes, hints = work
            with self._cv:
                if hints is None:
                    self._hints.clear()
                else:
                    self._hints.difference_update(hints)
                self._busy = True
            try:
                run, lineage = self._wanted()
                due = None if self._closing or self._flushing else self._due
                left = self._reconciler.step(run, lineage, hints=hints, due=due)
            except AuthenticationError as exc:
                with self._cv:
                    self._blocked = True
                    self._cv.notify_all()
                warn_once("mirror-auth", f"{exc} Logging continues locally; {self._sync_hint}")
                return
            except (ServerUnreachableError, ApiError) as exc:
                self._retry_later(hints)
                warn_once(
                    f"mirror-{type(exc).__name__}-{getattr(exc, 'status_code', None)}",
                    f"{exc} Logging continues locally and will be retried; {self._sync_hint}",
                )
                backoff = min(max(0.5, backoff * 2), _MAX_BACKOFF)
                self._sleep(min(backoff, 1.0) if self._closing else backoff)
                continue
            except Exception as exc:  # a bug of ours must not end the mirroring for the rest of the run
                self._retry_later(hints)
                warn_once(
                    f"mirror-bug-{type(exc).__name__}",
                    f"polyaxon-integrations: unexpected error while sending run {self._reconciler.uuid}: {exc!r}; "
                    f"it is retried, and {self._sync_hint}",
                )
                backoff = min(max(0.5, backoff * 2), _MAX_BACKOFF)
                self._sleep(min(backoff, 1.0) if self._closing else backoff)
                continue
            backoff = 0.0
            with self._cv:
                self._busy = False
                self._first = False
                self._last_step = time.monotonic()
                # Files not due yet stay hinted for a later step; anything else left is stuck (a file that
                # cannot be read): it does not hold the change count back during the run, only at the end.
                self._hints.update(left.files)
                if not (left.create or left.patch or left.replace or left.lineage or left.statuses):
                    if not (left.files and (self._closing or self._flushing)):
                        self._clean = max(self._clean, changes)
                self._cv.notify_all()
            if left and (self._closing or self._flushing):
                self._sleep(0.5)  # something could not be sent now: try again shortly, not in a tight loop

    def _retry_later(self, hints: set[str] | None) -> None:
        with self._cv:
            self._busy = False
            if hints:
                self._hints.update(hints)
            self._cv.notify_all()

    def _sleep(self, seconds: float) -> None:
        with self._cv:
            if not self._abandoned:
                self._cv.wait(seconds)
