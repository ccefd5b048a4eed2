"""The mirror: a background thread that makes the server agree with the run folder.

It does not replay a queue of calls; it sends what the server lacks (changed inputs,
outputs, tags, name, description, and statuses not yet posted), so repeated changes
coalesce into one request and a later retry or ``sync`` sends the latest values. A
failure never reaches the training thread: it backs off, warns once per cause, and
marks the folder pending so ``polyaxon-integrations sync`` can finish the job.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .exceptions import ApiError, AuthenticationError, ServerUnreachableError
from .folder import archive
from .guard import warn_once

if TYPE_CHECKING:
    from .run_client import RunClient
    from .state import RunState

__all__ = ["Mirror"]

_MAX_BACKOFF = 30.0
_MIN_INTERVAL = 5.0  # seconds between two uploads of the same file, early in a run...
_MAX_INTERVAL = 15.0  # ...growing with the run's age to this: a long run re-sends less often
_BATCH_MIN = 2  # this many changed event files in one folder go up as one archive of the folder
# 4xx answers worth retrying (the sandbox has been seen to answer a valid PATCH with 405 once).
_TRANSIENT = frozenset({401, 403, 405, 408, 409, 423, 429})


class Mirror:
    """Keeps one run on the server in step with its local state."""

    def __init__(
        self,
        state: RunState,
        client: RunClient,
        *,
        on_pending: Callable[[bool, bool], None],
        sync_hint: str,
        created_on_server: bool = True,
        root: Path,
        uploads: bool = True,
        owns_events: bool = False,
    ) -> None:
        self._root = root
        self._uploads_enabled = uploads
        # The server's events/ holds only what this mirror sent (a run we created), so an events
        # folder can be replaced whole by one archive; for runs we attached to it may hold more.
        self._owns_events = owns_events
        self._state = state
        self._client = client
        self._on_pending = on_pending
        self._sync_hint = sync_hint
        self._created = created_on_server
        self._cv = threading.Condition()
        self._dirty_inputs: set[str] = set()
        self._dirty_outputs: set[str] = set()
        self._dirty_fields: set[str] = set()  # "tags", "name", "description"
        self._statuses_sent = 1 if created_on_server else 0  # the server records "created" itself
        self._closing = False
        self._flushing = 0  # callers waiting in wait_idle(): send every changed file now
        self._blocked = False  # credentials rejected: nothing more can be sent this session
        self._pending = True  # the folder says pending until the server has everything
        self._busy = False
        self._abandoned = False
        self._dirty_files: set[str] = set()  # run-relative paths changed since their last upload
        self._uploads: dict[str, tuple[int, float]] = {}  # path -> (bytes uploaded so far, when last)
        self._lineage: list[dict[str, Any]] = []  # entries not yet posted
        self.bytes_uploaded = 0
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="polyaxon-mirror", daemon=True)
        self._thread.start()

    # --- called from the training thread: cheap, never blocks on the network ------------

    def mark(self, *, inputs: Iterable[str] = (), outputs: Iterable[str] = (), fields: Iterable[str] = ()) -> None:
        with self._cv:
            self._dirty_inputs.update(inputs)
            self._dirty_outputs.update(outputs)
            self._dirty_fields.update(fields)
            self._cv.notify()

    def files_changed(self, paths: Iterable[str]) -> None:
        """Called by the writer after a flush; uploads follow the budget in :meth:`_due_files`."""
        if not self._uploads_enabled:
            return
        with self._cv:
            self._dirty_files.update(paths)
            self._cv.notify()

    def add_lineage(self, entries: Iterable[dict[str, Any]]) -> None:
        with self._cv:
            self._lineage.extend(entries)
            self._cv.notify()

    def close(self, timeout: float) -> bool:
        """Stop after sending what is left, waiting at most ``timeout`` s; True if all was sent."""
        with self._cv:
            self._closing = True
            self._cv.notify()
        self._thread.join(timeout)
        self._abandoned = True  # past the deadline: what is left is for `sync`, stop retrying
        done = not self._thread.is_alive() and not self._has_work() and not self._blocked
        if not done:
            self._set_pending(True)
        return done

    @property
    def abandoned(self) -> bool:
        return self._abandoned

    @property
    def in_sync(self) -> bool:
        return not self._has_work() and not self._pending

    # --- worker ------------------------------------------------------------------------

    def _has_work(self) -> bool:
        return bool(self._dirty_files) or self._has_small_work()

    def _has_small_work(self) -> bool:
        return bool(
            not self._created
            or self._dirty_inputs
            or self._dirty_outputs
            or self._dirty_fields
            or self._lineage
            or self._statuses_sent < len(self._state.conditions)
        )

    def _due_files(self) -> list[str]:
        """Changed files whose upload now keeps total bytes sent within a constant factor of their size.

        Event files only grow and are re-sent whole, so uploading on every change would cost
        O(n^2) bytes over a long run. A file is sent again only while (bytes already sent for it
        + its size) <= 3 x its size + 64 KiB, and at most every :meth:`_interval` seconds; so
        sends get rarer as the file grows (each about 1.5x the last) and the total stays within
        about 4x the final size, the final upload at ``end()`` included.
        """
        if self._closing or self._flushing:
            return sorted(self._dirty_files)
        now = time.monotonic()
        interval = self._interval()
        due = []
        for rel in self._dirty_files:
            sent, when = self._uploads.get(rel, (0, -math.inf))
            if sent and now - when < interval:
                continue
            try:
                size = os.path.getsize(self._root / rel)
            except OSError:
                continue
            if not sent or sent + size <= 3 * size + 65536:
                due.append(rel)
        return sorted(due)

    def _interval(self) -> float:
        """Seconds between two uploads of a changed file: 5 s at first (live curves while one watches a
        new run), then a twentieth of the run's age, up to 15 s (each upload costs CPU beside training)."""
        return min(_MAX_INTERVAL, max(_MIN_INTERVAL, (time.monotonic() - self._started) / 20))

    def _loop(self) -> None:
        backoff = 0.0
        while True:
            with self._cv:
                while not self._closing and not self._has_small_work() and not self._due_files():
                    self._cv.wait(self._interval() if self._dirty_files else None)
                if not self._has_work() or self._blocked or self._abandoned:
                    return
            try:
                self._busy = True
                self._send()
            except AuthenticationError as exc:
                self._blocked = True
                self._set_pending(True)
                warn_once("mirror-auth", f"{exc} Logging continues locally; {self._sync_hint}")
                return
            except (ServerUnreachableError, ApiError) as exc:
                self._set_pending(True)
                if self.abandoned:  # end() has given up waiting; `sync` will finish the job
                    return
                warn_once(
                    f"mirror-{type(exc).__name__}-{getattr(exc, 'status_code', None)}",
                    f"{exc} Logging continues locally and will be retried; {self._sync_hint}",
                )
                backoff = min(max(0.5, backoff * 2), _MAX_BACKOFF)
                with self._cv:
                    if self._closing:
                        backoff = min(backoff, 1.0)
                    self._cv.wait(backoff)
                continue
            finally:
                self._busy = False
            backoff = 0.0
            if not self._has_work():
                self._set_pending(False)

    def _send(self) -> None:
        state = self._state
        if not self._created:  # the server was away at init: create the run from its JSON now
            from .sync import ensure_run

            ensure_run(self._client.client, state.owner, state.project, state.to_json())
            self._created = True
            self._statuses_sent = len(state.conditions)
            with self._cv:
                self._dirty_inputs.clear()
                self._dirty_outputs.clear()
                self._dirty_fields.clear()
            return
        with self._cv:
            inputs, self._dirty_inputs = self._dirty_inputs, set()
            outputs, self._dirty_outputs = self._dirty_outputs, set()
            fields, self._dirty_fields = self._dirty_fields, set()
        try:
            patch = state.patch_body(inputs, outputs, fields)
            if patch:
                self._send_patch(patch)
        except Exception:
            with self._cv:  # not sent: mark again so the next attempt (or sync) carries it
                self._dirty_inputs |= inputs
                self._dirty_outputs |= outputs
                self._dirty_fields |= fields
            raise
        api = self._client.client
        with self._cv:
            due = self._due_files()
        for rel_dir, files in self._batches(due):
            if rel_dir is None:
                for rel in files:
                    self._upload(rel)
            else:
                self._upload_folder(rel_dir)
        with self._cv:
            lineage = list(self._lineage)
        if lineage:
            api.create_lineage(state.owner, state.project, state.uuid, lineage)
            with self._cv:
                del self._lineage[: len(lineage)]
        while self._statuses_sent < len(state.conditions):
            condition = state.conditions[self._statuses_sent]
            api.create_status(state.owner, state.project, state.uuid, condition)
            self._statuses_sent += 1

    def _upload(self, rel: str) -> None:
        state = self._state
        path = self._root / rel
        with self._cv:
            self._dirty_files.discard(rel)
        try:
            if path.is_dir():
                size = self._upload_dir(path, rel)
            else:
                size = self._client.client.upload_file(state.owner, state.project, state.uuid, path, rel)
        except FileNotFoundError:
            return
        except Exception:
            with self._cv:
                self._dirty_files.add(rel)
            raise
        self._count_sent(rel, size)
        self.bytes_uploaded += size

    def _count_sent(self, rel: str, size: int) -> None:
        """Add ``size`` to what ``rel`` has cost so far, for the re-send budget in :meth:`_due_files`."""
        sent, _ = self._uploads.get(rel, (0, 0.0))
        self._uploads[rel] = (sent + size, time.monotonic())

    def _batches(self, due: list[str]) -> list[tuple[str | None, list[str]]]:
        """Group due files: many in one ``events/<kind>`` or ``resources/<kind>`` folder go as one archive."""
        if not self._owns_events:
            return [(None, due)]
        by_dir: dict[str, list[str]] = {}
        for rel in due:
            by_dir.setdefault(rel.rsplit("/", 1)[0] if "/" in rel else "", []).append(rel)
        single: list[str] = []
        batches: list[tuple[str | None, list[str]]] = []
        for rel_dir, files in by_dir.items():
            if len(files) >= _BATCH_MIN and rel_dir.startswith(("events/", "resources/")) and rel_dir.count("/") == 1:
                batches.append((rel_dir, files))
            else:
                single.extend(files)
        return [(None, single), *batches] if single else batches

    def _upload_folder(self, rel_dir: str) -> None:
        """Replace the server's ``rel_dir`` with the local one (it holds everything sent there, and more)."""
        path = self._root / rel_dir
        files = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
        sizes = {f"{rel_dir}/{p.name}": p.stat().st_size for p in files}
        with self._cv:
            self._dirty_files.difference_update(sizes)
        try:
            size = self._upload_dir(path, rel_dir)
        except Exception:
            with self._cv:
                self._dirty_files.update(sizes)
            raise
        for rel, file_size in sizes.items():
            self._count_sent(rel, file_size)
        self.bytes_uploaded += size

    def _upload_dir(self, path: Path, rel: str) -> int:
        state = self._state
        import tempfile

        with tempfile.TemporaryDirectory(prefix="plx-upload-") as tmp:
            target = Path(tmp) / f"{path.name}.tar.gz"
            archive(path, target, compresslevel=1)  # fast: this runs beside training
            return self._client.client.upload_tar(state.owner, state.project, state.uuid, target, rel)

    def _send_patch(self, patch: dict[str, Any]) -> None:
        state = self._state
        try:
            self._client.client.patch_run(state.owner, state.project, state.uuid, patch)
        except ApiError as exc:
            code = exc.status_code or 0
            if 400 <= code < 500 and code not in _TRANSIENT:
                # The server will never accept this body; keep it in the folder, tell the user once.
                warn_once(f"mirror-rejected-{code}", f"{exc} The value stays in the run folder.")
                return
            raise

    def _set_pending(self, pending: bool) -> None:
        if pending != self._pending:
            self._pending = pending
            try:
                self._on_pending(pending, self._created)
            except Exception:  # the pending mark is a convenience; never kill the worker for it
                pass

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is left to send (``flush``); True if reached.

        Files changed since their last upload are sent now, not after the re-send interval.
        """
        deadline = time.monotonic() + timeout
        with self._cv:
            self._flushing += 1
            self._cv.notify()
        try:
            while time.monotonic() < deadline:
                if not self._busy and not self._has_work():
                    return True
                time.sleep(0.01)
            return not self._busy and not self._has_work()
        finally:
            with self._cv:
                self._flushing -= 1
