"""What Polyaxon's run page shows beside metrics: resources, logs, environment and code reference.

Each is switched by an ``init`` argument (the official client's names: ``collect_resources``,
``track_logs``, ``track_env``, ``track_code``), else by an environment variable, else on,
except in-cluster, where the platform collects logs and code itself (resources follow
``POLYAXON_COLLECT_RESOURCES``, which Polyaxon's plugins set for the job, as for the
official client). Offline runs record everything: it is sent with the rest at ``sync``.

Nothing here runs on the training thread except the tee's queue put (see
:mod:`.logcapture`): environment and code reference are written by the writer thread;
one ``polyaxon-system`` thread per run samples resources and appends captured lines.

>>> run = tracking.init(project="demo", track_logs=False, collect_resources=True)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar

from . import env, rank
from .events import Series, format_timestamp, format_value
from .guard import get_logger, reraise, warn_once
from .lineage import lineage_entry
from .logcapture import LOGS_FILE, LogCapture
from .writer import append_rows

if TYPE_CHECKING:
    from .context import Context
    from .mirror import Mirror
    from .recorder import Recorder
    from .resources import ResourceSampler

__all__ = ["SystemMonitor", "SystemOptions"]

T = TypeVar("T")

_LOG_FLUSH = 1.0  # seconds between two appends of captured lines
# Seconds between two writes (and uploads) of the resource files while the run lasts. Samples wait
# in memory meanwhile: each file append costs syscalls, and each syscall hands the GIL back to a
# training thread that then makes this one wait, so fewer and larger writes cost training less.
_RESOURCE_FLUSH = 10.0
_told_no_sampler = False


def _provenance() -> ModuleType:
    """Imported on the writer thread: ``subprocess`` and ``platform`` are not the caller's to pay for."""
    from . import provenance

    return provenance


@dataclass(frozen=True, kw_only=True)
class SystemOptions:
    """What to record beside the metrics; ``resolve`` applies argument > environment > default."""

    track_code: bool = True
    track_env: bool = True
    track_logs: bool = True
    collect_resources: bool = True
    interval: float = 5.0
    #: put before every resource name: ``<pod>_`` when the job has several pods (see :mod:`.rank`)
    resource_prefix: str = ""

    @classmethod
    def resolve(
        cls,
        context: Context,
        *,
        track_code: bool | None = None,
        track_env: bool | None = None,
        track_logs: bool | None = None,
        collect_resources: bool | None = None,
    ) -> SystemOptions:
        default = not context.is_managed

        def pick(arg: bool | None, name: str) -> bool:
            return bool(arg) if arg is not None else env.read_bool(name, default)

        interval = env.read_float(env.RESOURCES_INTERVAL, 5.0)
        replica = rank.detect()
        return cls(
            track_code=pick(track_code, env.TRACK_CODE),
            track_env=pick(track_env, env.TRACK_ENV),
            track_logs=pick(track_logs, env.TRACK_LOGS),
            # One sampler per pod or node (the processes there share its CPUs and GPUs): local rank 0's.
            collect_resources=pick(collect_resources, env.COLLECT_RESOURCES) and replica.is_local_main,
            interval=max(interval, 0.05),
            resource_prefix=pod_prefix(replica) if context.is_managed else "",
        )


def pod_prefix(replica: rank.Replica) -> str:
    """``<pod>_`` when other pods sample too: each pod's sidecar copies its ``resources/metric/cpu.plx`` over
    the others' in the store, so each pod's series needs its own name to survive (and to show as its own)."""
    return f"{replica.label}_" if replica.several_pods else ""


class SystemMonitor:
    """Starts what ``options`` asks for; ``close()`` (from ``Run.end``) gives the streams back and writes the rest."""

    def __init__(
        self, options: SystemOptions, recorder: Recorder | None, mirror: Mirror | None, root: Path | None = None
    ) -> None:
        """Without a recorder (a replica that tracks nothing but its pod's resources, see :mod:`.replica`)
        only resources are sampled, into ``root``, and nothing is recorded in lineage."""
        self.options = options
        folder = recorder.root if recorder is not None else root
        if folder is None:
            raise ValueError("SystemMonitor needs a recorder or a root folder.")
        self._root: Path = folder
        self._recorder = recorder
        self._mirror = mirror
        self._stop = threading.Event()
        self._series: dict[str, Series] = {}
        self._changed: set[str] = set()
        self._rows: dict[str, list[str]] = {}  # resource file -> rows not yet written
        self._log_rows: list[str] = []  # captured lines not yet written
        self._thread: threading.Thread | None = None
        self.samples = 0
        self.lines = 0
        if recorder is None:
            options = self.options = dataclasses.replace(options, track_code=False, track_env=False, track_logs=False)
        if options.track_env and recorder is not None:
            recorder.writer.put_now(("call", lambda: _provenance().record_env(recorder)))  # done before training
        if options.track_code and recorder is not None:
            cwd = os.getcwd()  # the checkout the script runs in, as the official client
            recorder.writer.put_now(("call", lambda: _provenance().record_code_ref(recorder, cwd)))
        self._logs = LogCapture() if options.track_logs else None
        if options.track_logs or options.collect_resources:
            if self._logs is not None:
                self._logs.start()
            self._thread = threading.Thread(target=self._loop, name="polyaxon-system", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> bool:
        """Stop capturing, take a last sample, write everything and record the resources in lineage."""
        if self._logs is not None:
            self._logs.stop()
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # --- the polyaxon-system thread --------------------------------------------------------

    def _loop(self) -> None:
        sampler: ResourceSampler | None = None
        if self.options.collect_resources:
            try:
                sampler = self._load_sampler()
            except Exception as exc:  # no samples then, but captured lines must still be drained
                warn_once("system-sampler", f"polyaxon-integrations: cannot sample resources: {exc!r}")
        now = time.monotonic()
        next_sample = now + min(1.0, self.options.interval)  # short runs get a sample too
        next_flush = now + _RESOURCE_FLUSH
        try:
            while not self._stop.wait(_LOG_FLUSH if sampler is None else max(0.0, min(_LOG_FLUSH, next_sample - now))):
                self._guarded(self._write_logs, False)
                now = time.monotonic()
                if sampler is not None and now >= next_sample:
                    self._guarded(self._sample, sampler)
                    next_sample = now + self.options.interval
                if now >= next_flush:
                    self._guarded(self._write_resources, None)
                    next_flush = now + _RESOURCE_FLUSH
                self._notify()
            self._guarded(self._write_logs, True)
            if sampler is not None:
                self._guarded(self._sample, sampler)
                self._guarded(self._write_resources, None)
                self._guarded(self._record_lineage, None)
            self._notify()
        finally:
            if sampler is not None:
                sampler.close()

    def _guarded(self, fn: Callable[[T], None], arg: T) -> None:
        try:
            fn(arg)
        except Exception as exc:  # this thread must outlive any one failure; tests see it re-raised
            warn_once(f"system-{type(exc).__name__}", f"polyaxon-integrations: system tracking failed: {exc!r}")
            if reraise() and not isinstance(exc, OSError):  # a full or read-only disk is not a bug
                raise

    def _load_sampler(self) -> ResourceSampler | None:
        from .resources import ResourceSampler  # psutil and pynvml are imported here, on this thread

        global _told_no_sampler
        sampler = ResourceSampler.load()
        if not sampler.probes:
            if not _told_no_sampler:  # once per process: a missing optional extra is not worth a warning per run
                _told_no_sampler = True
                get_logger().info(
                    "polyaxon-integrations: no system resources to sample; "
                    "`pip install 'polyaxon-integrations[system]'` adds CPU, memory, disk and network."
                )
            return None
        return sampler

    def _append(self, rel: str, text: str, header: str = "") -> None:
        append_rows(self._root / rel, text, header)

    def _write_logs(self, final: bool) -> None:
        if self._logs is None:
            return
        rows = self._log_rows
        rows.extend(self._logs.drain(final))
        if rows:
            self._append(LOGS_FILE, "".join(rows))  # on a full disk the lines wait here for the next try
            self.lines += len(rows)
            rows.clear()
            self._changed.add(LOGS_FILE)

    def _sample(self, sampler: ResourceSampler) -> None:
        values = sampler.sample()
        ts = time.time()
        stamp = format_timestamp(ts)
        prefix = self.options.resource_prefix
        for bare, value in values.items():
            name = prefix + bare
            self._rows.setdefault(f"resources/metric/{name}.plx", []).append(f"\n|{stamp}|{format_value(value)}")
            series = self._series.get(name)
            if series is None:
                series = self._series[name] = Series()
            series.add(None, ts, value)
        self.samples += 1

    def _write_resources(self, _: None) -> None:
        for rel, rows in self._rows.items():
            if rows:
                self._append(rel, "".join(rows), header="step|timestamp|metric")
                rows.clear()
                self._changed.add(rel)

    def _record_lineage(self, _: None) -> None:
        """Each resource series in lineage as kind ``system`` (what the official client's sync records)."""
        entries = [
            lineage_entry(name, "system", f"resources/metric/{name}.plx", series.summary())
            for name, series in sorted(self._series.items())
        ]
        if entries and self._recorder is not None:
            self._recorder.lineage.add(*entries)
            if self._mirror is not None:
                self._mirror.add_lineage(entries)

    def _notify(self) -> None:
        """Tell the mirror which files changed (it spaces the uploads of growing files itself)."""
        if self._changed and self._mirror is not None:
            self._mirror.files_changed(set(self._changed))
        self._changed.clear()
