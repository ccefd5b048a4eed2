"""``Run``: the tracking object. A local folder first; a mirror keeps the server in step.

Starting a run talks to the server once, synchronously, so a wrong token or project is
an error at ``init`` (not mid-training). After that, every change is made to the local
state and folder on the calling thread and sent by the mirror thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import env, process
from .client import PolyaxonClient
from .context import Context
from .exceptions import ConfigError, PolyaxonError
from .guard import warn_once
from .mirror import Mirror
from .names import slugify
from .reconcile import Reconciler, merge_restored
from .recorder import Recorder
from .rich import RichLoggingMixin
from .run_client import DONE_STATUSES, RunClient
from .start import start
from .system import SystemMonitor, SystemOptions
from .ui import dashboard_url, run_url
from .values import storable_dict

__all__ = ["Run"]

_STATUSES = DONE_STATUSES | {"running"}
_APPENDED = ("events", "resources", "plxlogs")  # folders whose files grow by appending, run after run
_now = time.time


class Run(RichLoggingMixin):
    """One tracked run. Create it with ``tracking.init()``; end it with ``end()`` (or let the process end it).

    >>> run = tracking.init(project="demo", is_offline=True)  # doctest: +SKIP
    >>> run.log_inputs(lr=0.01); run.end()  # doctest: +SKIP
    """

    def __init__(
        self,
        context: Context,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        end_timeout: float | None = None,
        track_code: bool | None = None,
        track_env: bool | None = None,
        track_logs: bool | None = None,
        collect_resources: bool | None = None,
    ) -> None:
        self.context = context
        self.end_timeout = env.read_float(env.END_TIMEOUT, 10.0) if end_timeout is None else end_timeout
        system = SystemOptions.resolve(
            context,
            track_code=track_code,
            track_env=track_env,
            track_logs=track_logs,
            collect_resources=collect_resources,
        )
        self._ended = False
        self._end_lock = threading.Lock()
        self._mirror: Mirror | None = None
        self._recovery: threading.Thread | None = None
        begun = start(context, self._run_client, slugify(name) if name else None, description, _tag_list(tags))
        self._state, self.folder, self._record = begun.state, begun.folder, begun.record
        if not self.is_managed:
            self._record.claim()  # this process writes the run now: a crash of it is recognisable later
            self._written = self.folder.write_run(self._state.to_json())
        if begun.created_on_server is not None:
            managed = self.is_managed
            reconciler = Reconciler(
                self.folder.path,
                self._http,
                self.owner,
                self.project,
                self._state.uuid,
                self._record,
                uploads=begun.uploads,
                statuses=not managed,
                save=not managed,  # in-cluster the folder is the artifacts store: no bookkeeping in it
            )
            if not managed:
                self._record.server = self._http.config.host
                reconciler.save(pending=True)
                self._recovery = threading.Thread(target=self._recover, name="polyaxon-recover", daemon=True)
            hint = (
                "the platform collects artifacts from the context folder."
                if managed
                else f"to send it later run `{self.sync_command}`."
            )
            self._mirror = Mirror(
                reconciler, self._wanted, sync_hint=hint, before=self._restore_event_files if begun.restore else None
            )
        elif not self.is_managed:
            self._record.save(self.folder.path, pending=True)
        self._has_metrics = False
        self._user_outputs: set[str] = set()
        self._recorder = Recorder(self.folder.path, self._mirror)
        self._metric_stems = self._recorder.metric_stems
        self._put = self._recorder.writer.put
        self._system = SystemMonitor(system, self._recorder, self._mirror)
        if self._mirror is not None:
            self._mirror.start()
        if self._recovery is not None:
            self._recovery.start()
        process.register(self)

    @property
    def _http(self) -> PolyaxonClient:
        if self.context.client is not None:
            return self.context.client
        assert self.context.config is not None
        client = PolyaxonClient(self.context.config)
        object.__setattr__(self.context, "client", client)
        return client

    def _run_client(self, run_uuid: str | None) -> RunClient:
        return RunClient(owner=self.context.owner, project=self.context.project, run_uuid=run_uuid, client=self._http)

    def _recover(self) -> None:
        """In the background: runs of this offline root whose process died without ending them (``kill -9``,
        the OOM killer) are sent to this server and ended ``failed``, as a plain ``sync`` would."""
        from .sync import recover_crashed

        try:
            found = recover_crashed(self._http, self._record.server or "", self.folder.path.parent.parent)
        except Exception as exc:  # never a reason for this run to fail
            warn_once("recover", f"polyaxon-integrations: could not look for crashed runs: {exc!r}")
            return
        if found:
            warn_once(
                "recovered",
                f"polyaxon-integrations: {len(found)} earlier run(s) whose process ended without ending them "
                f"were sent and marked failed: {', '.join(found)}.",
            )

    def _wanted(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """What the server should hold: the run as ``run.plx.json`` has it, and its lineage."""
        return self._state.to_json(), self._recorder.lineage.entries()

    def _restore_event_files(self) -> None:
        """On the mirror thread, before anything is sent: fetch the growing files the server has for this
        run (written by another machine, an earlier job, another process) and put our rows after theirs,
        so the uploads that follow extend the server's series instead of replacing them."""
        import shutil
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix=".restore-", dir=self.folder.path))
        try:
            for rel in _APPENDED:
                try:
                    self._http.download_dir(self.owner, self.project, self.run_uuid, rel, tmp / rel)
                except PolyaxonError as exc:
                    warn_once(
                        f"restore-{self.run_uuid}",
                        f"{exc} Could not fetch run {self.run_uuid}'s {rel}/ from the server; what is logged now "
                        f"will replace files of the same names there.",
                    )
                    return
            # on the writer thread, which is the one that appends to these files: no row is lost to a race
            self._recorder.writer.call(lambda: merge_restored(tmp, self.folder.path, self._record))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _mirror_mark(self, **changes: Iterable[str]) -> None:
        if self._mirror is not None:
            self._mirror.mark(**changes)

    def _persist(self) -> bool:
        """Rewrite ``run.plx.json``; a disk fault is warned about (never raised into training) and heals at the
        next change, since the whole state is written each time (the mirror sends it to the server regardless)."""
        if self.is_managed:
            return True
        try:
            self._adopt_other_writer()
            self._written = self.folder.write_run(self._state.to_json())
            return True
        except OSError as exc:
            warn_once(
                f"persist-{self.run_uuid}-{exc.errno}",
                f"polyaxon-integrations: cannot update {self.folder.path / 'run.plx.json'}: {exc}; the run's "
                "inputs, outputs, tags and status are kept in memory and written at the next change.",
            )
            return False

    _written: tuple[int, int] | None = None  # the stamp of the run.plx.json this process last wrote

    def _adopt_other_writer(self) -> None:
        """Another process wrote ``run.plx.json`` since we did (the worker of a ``ddp_spawn`` parent, a second
        process logging into this folder): keep what it logged that we lack, so our write does not erase it."""
        stamp = self.folder.run_stamp()
        if stamp is None or self._written is None or stamp == self._written:
            return
        try:
            theirs = self.folder.read_run()
        except (OSError, ValueError):
            return
        if isinstance(theirs, dict) and theirs.get("uuid") == self.run_uuid:
            self._state.adopt_missing(theirs)

    # --- public surface -------------------------------------------------------------

    @property
    def run_uuid(self) -> str:
        return self._state.uuid

    @property
    def owner(self) -> str:
        return self.context.owner

    @property
    def project(self) -> str:
        return self.context.project

    @property
    def name(self) -> str | None:
        return self._state.name

    @property
    def status(self) -> str | None:
        return self._state.status

    @property
    def ended(self) -> bool:
        """True once ``end()`` has run (adapters then start a new run rather than log into this one)."""
        return self._ended

    @property
    def is_managed(self) -> bool:
        return self.context.is_managed

    @property
    def is_offline(self) -> bool:
        return self.context.is_offline

    @property
    def run_data(self) -> dict[str, Any]:
        """The run as ``run.plx.json`` has it."""
        return self._state.to_json()

    @property
    def url(self) -> str | None:
        """The run's page in Polyaxon's web UI (None for offline runs)."""
        config = self.context.config
        if config is None or not config.host or self.is_offline:
            return None
        return run_url(config.host, self.owner, self.project, self.run_uuid)

    def dashboard_url(self, metrics: Iterable[str] | None = None, xaxis: str = "step") -> str | None:
        """A UI link showing ``metrics`` (default: every metric logged so far) as curves over steps."""
        page = self.url
        if page is None:
            return None
        stems = self._recorder.metric_stems
        names = (
            sorted(stems.values())
            if metrics is None
            else [stems.get(m) or self._recorder.names.stem("metric", m) for m in metrics]
        )
        return dashboard_url(page, names, xaxis)

    @property
    def sync_command(self) -> str:
        return self.folder.sync_command

    def get_artifacts_path(self) -> str:
        return str(self.folder.path)

    def get_outputs_path(self) -> str:
        path = self.folder.outputs
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    def __repr__(self) -> str:
        return f"Run({self.owner}/{self.project}/{self.run_uuid}, status={self.status!r})"

    def _check_open(self) -> None:
        if self._ended:
            raise PolyaxonError(f"{self!r} has ended; start another with tracking.init().")

    def log_inputs(self, reset: bool = False, **inputs: Any) -> None:
        """Record hyperparameters; repeated identical values are free.

        Values are converted here to what the server stores (``core/values.py``: numpy and tensor
        numbers to Python numbers, NaN/inf to ``"NaN"``/``"Infinity"``); anything else is an error naming the key.
        """
        self._check_open()
        inputs = storable_dict(inputs, "inputs")
        if reset:
            with self._state.lock:
                self._state.inputs.clear()
        changed = self._state.merge("inputs", inputs)
        if changed:
            self._persist()
            self._mirror_mark(inputs=changed)

    def log_outputs(self, reset: bool = False, **outputs: Any) -> None:
        """Record results (converted like :meth:`log_inputs`)."""
        self._check_open()
        outputs = storable_dict(outputs, "outputs")
        if reset:
            with self._state.lock:
                self._state.outputs.clear()
        self._user_outputs.update(outputs)
        changed = self._state.merge("outputs", outputs)
        if changed:
            self._persist()
            self._mirror_mark(outputs=changed)

    def log_tags(self, tags: str | Iterable[str], reset: bool = False) -> None:
        self._check_open()
        tag_list = _tag_list(tags)
        with self._state.lock:
            if reset:
                self._state.tags = []
            changed = self._state.add_tags(tag_list) or reset
        if changed:
            self._persist()
            self._mirror_mark(fields=["tags"])

    def set_name(self, name: str) -> None:
        self._set_field("name", slugify(name))

    def set_description(self, description: str) -> None:
        self._set_field("description", description)

    def _set_field(self, field: str, value: str) -> None:
        self._check_open()
        with self._state.lock:
            if getattr(self._state, field) == value:
                return
            setattr(self._state, field, value)
        self._persist()
        self._mirror_mark(fields=[field])

    def log_status(self, status: str, reason: str | None = None, message: str | None = None) -> None:
        """Set the run's status (not for runs managed by the platform, whose statuses are its own)."""
        self._check_open()
        if status not in _STATUSES:
            raise ConfigError(f"Unknown status {status!r}: use one of {sorted(_STATUSES)}.")
        if self.is_managed:
            return
        if status in DONE_STATUSES:
            self.end(status, message=message)
            return
        if self._state.set_status(status, reason, message):
            self._persist()
            self._mirror_mark()

    # --- events (the hot path: validate and enqueue; the writer thread does the rest) ---

    def log_metrics(self, step: int | None = None, timestamp: Any = None, **metrics: Any) -> None:
        """Log scalar metrics at ``step``; microseconds on the calling thread, no I/O.

        Values: Python or numpy numbers, bools, one-element tensors of any framework.
        """
        self.log_dict(metrics, step, timestamp)

    def log_dict(self, metrics: dict[str, Any], step: int | None = None, timestamp: Any = None) -> None:
        """``log_metrics`` for a dict of metrics (what adapters and ``tracking.log_metrics`` call).

        The dict is handed to the writer thread as it is (no copy, to keep this call as cheap as
        ``log_metrics``): pass a new dict per call, not one you change afterwards.
        """
        # Fast path (the common case inside a training loop): known names, float/int values, int step.
        # Names become known on the slow path, which also records that the run has metrics; after
        # end(), ``_put`` raises, so neither check costs this path anything.
        stems = self._metric_stems
        for name, value in metrics.items():
            kind = type(value)
            if (kind is not float and kind is not int) or name not in stems:
                break
        else:
            if timestamp is None and (step is None or type(step) is int):
                self._put(("metrics", step, _now(), metrics))
                return
        if self._ended:
            self._check_open()
        self._recorder.metrics(step, timestamp, metrics)
        if not self._has_metrics:
            self._first_metrics()

    def _log_metrics(self, step: Any, timestamp: Any, metrics: dict[str, Any]) -> None:
        """Kept for callers written before ``log_dict``."""
        self.log_dict(metrics, step, timestamp)

    def _put_after_end(self, item: tuple[Any, ...]) -> None:
        self._check_open()

    def log_metric(self, name: str, value: Any, step: int | None = None, timestamp: Any = None) -> None:
        self.log_metrics(step, timestamp, **{name: value})

    def _first_metrics(self) -> None:
        self._has_metrics = True
        with self._state.lock:
            self._state.meta_info.update(has_metrics=True, has_events=True)
        self._recorder.writer.put(("call", self._persist))  # no file I/O on the caller's thread
        self._mirror_mark(fields=["meta_info"])

    def log_text(self, name: str, text: str, step: int | None = None, timestamp: Any = None) -> None:
        self._check_open()
        self._recorder.text(name, text, step, timestamp)

    def log_artifact(
        self, path: str | os.PathLike[str], name: str | None = None, kind: str = "file", rel_path: str | None = None
    ) -> str:
        """Copy a file or folder into the run (``assets/<kind>/``), upload it, record it in lineage.

        Returns the run-relative path. The copy happens on the writer thread, in order with events.
        """
        self._check_open()
        return self._recorder.artifact(path, name, kind, rel_path)

    def log_model(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        framework: str | None = None,
        step: int | None = None,
        timestamp: Any = None,
        summary: dict[str, Any] | None = None,
    ) -> str:
        """Save a model with the run; returns the run-relative path of the copy.

        With ``step``: a model event (``events/model/<name>.plx``) and ``assets/model/<name>_<step><ext>``,
        in lineage as ``<name>-<step>``; without: ``outputs/<file name>``, in lineage as ``name``.
        The copy is made by the writer thread; ``summary`` (a score, the step...) goes into lineage.
        """
        self._check_open()
        return self._recorder.model(path, name, framework, step, timestamp, summary)

    def log_file(self, filename: str, content: str | bytes, kind: str = "file") -> str:
        """Save ``content`` as ``outputs/<filename>`` (a model summary, a report), recorded in lineage."""
        self._check_open()
        return self._recorder.file(filename, content, kind)

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything logged so far to disk and wait until the server has it; True if it does."""
        written = self._recorder.writer.flush(timeout)
        if self._mirror is not None:
            self._mirror.mark()
            return self._mirror.wait_idle(timeout) and written
        return written

    def end(self, status: str = "succeeded", message: str | None = None, timeout: float | None = None) -> bool:
        """Finish the run; idempotent. Returns True when the server has everything.

        Waits at most ``timeout`` (default ``POLYAXON_END_TIMEOUT``, 10 s) for the server;
        what is not sent by then stays in the folder, marked for ``sync``.
        """
        if status not in DONE_STATUSES:
            raise ConfigError(f"end() takes a final status ({sorted(DONE_STATUSES)}), not {status!r}.")
        return self._close(status, message, timeout)

    def detach(self, timeout: float | None = None) -> bool:
        """Write and send everything, then stop logging here, leaving the status to the run's owner.

        For a process that logs into a run another process owns (a spawned worker): the run goes on.
        """
        return self._close(None, None, timeout)

    def _close(self, status: str | None, message: str | None, timeout: float | None) -> bool:
        with self._end_lock:
            if self._ended:
                return self._mirror.in_sync if self._mirror is not None else True
            self._ended = True
            self._put = self._put_after_end
        process.unregister(self)
        budget = self.end_timeout if timeout is None else timeout
        started = time.monotonic()
        if self._mirror is not None:
            self._mirror.hold()  # what end() writes goes up in one step at the close, not piecemeal
        self._system.close(min(budget, 5.0))  # streams back, last lines and samples written
        # The local folder must get everything whatever the server wait: the writer gets at least 30 s.
        if not self._recorder.writer.close(max(budget, 30.0)):
            warn_once("writer-close", f"Events of run {self.run_uuid} are still being written to {self.folder.path}.")
        last = self._recorder.summarize(self._user_outputs)
        if last:
            self._mirror_mark(outputs=self._state.merge("outputs", storable_dict(last, "outputs")))
        if not self.is_managed and status is not None:
            self._state.set_status(status, "PolyaxonIntegrations", message)
        if not self._persist():
            warn_once(
                f"end-persist-{self.run_uuid}",
                f"Run {self.run_uuid}'s final state ({self._state.status}) is not in {self.folder.path}/run.plx.json "
                "(the disk refused it); only the server gets it, if it is reachable.",
            )
        self._record.ended = True
        if self._mirror is None:
            if not self.is_managed:
                try:
                    self._record.save(self.folder.path, pending=True)
                except OSError as exc:  # a full or read-only disk: `sync` sees a pending run either way
                    warn_once(
                        f"end-record-{self.run_uuid}", f"polyaxon-integrations: cannot update the sync record: {exc}"
                    )
            return True
        self._mirror.mark()
        in_sync = self._mirror.close(max(0.0, budget - (time.monotonic() - started)))
        if not in_sync and not self.is_managed:
            warn_once(
                f"end-pending-{self.run_uuid}",
                f"Run {self.run_uuid} is complete in {self.folder.path} but the server does not have all of it yet; "
                f"send it with `{self.sync_command}`.",
            )
        return in_sync

    #: Set by an adapter for a run another process owns: the process end detaches instead of ending it.
    detach_at_exit = False

    def _end_at_exit(self, status: str, message: str | None) -> None:
        if self.detach_at_exit:
            self.detach()
        else:
            self.end(status, message=message)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None:
            self.end("succeeded")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("stopped", message="KeyboardInterrupt")
        else:
            self.end("failed", message=f"{exc_type.__name__}: {exc}"[:1000])


def _tag_list(tags: str | Iterable[str] | None) -> list[str]:
    if tags is None:
        return []
    items = [tags] if isinstance(tags, str) else list(tags)
    for tag in items:
        if not isinstance(tag, str) or not tag:
            raise ConfigError(f"Invalid tag {tag!r}: tags are non-empty strings.")
    return items
