"""``sync`` and ``status``: the reconcile run once, with no budget, over run folders.

Used for offline runs, for runs left pending after an outage, and for runs whose process
died without ``end()`` (``kill -9``, the OOM killer): such a run is ended ``failed`` with a
message that says so, unless the server already has a final status. What is pending is
derived from the folder and its record of what the server confirmed, never from a flag.
Everything read from a folder is validated before it becomes part of a URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import PolyaxonClient
from .exceptions import ApiError, ConfigError, InvalidNameError
from .folder import LINEAGE_FILE, RUN_FILE, RunFolder, offline_root, owned_by_us, write_json_atomic
from .names import validate_run_ids
from .reconcile import Plan, Reconciler, forget
from .record import Record
from .state import DONE_STATUSES as DONE

__all__ = ["LocalRun", "find_runs", "push", "push_folder", "recover_crashed", "sync_lock"]

def _ids(run: dict[str, Any], folder: Path) -> tuple[str, str, str]:
    """owner, project and uuid from ``run.plx.json``, refused unless they are what the server would name."""
    owner, project, uuid = run.get("owner"), run.get("project"), run.get("uuid")
    if not owner or not project:
        raise ConfigError(f"{folder / RUN_FILE} names no project: pass --project owner/name.")
    try:
        validate_run_ids(owner, project, uuid, source=str(folder / RUN_FILE))
    except InvalidNameError as exc:
        raise ConfigError(f"{exc} Not pushed.") from None
    if folder.name != uuid:
        raise ConfigError(f"{folder / RUN_FILE} names run {uuid}, but the folder is {folder.name}; not pushed.")
    return owner, project, uuid


@dataclass
class LocalRun:
    """One run folder as ``sync``/``status`` see it: the run, its lineage, and what the server confirmed."""

    folder: RunFolder
    run: dict[str, Any]
    lineage: list[dict[str, Any]]
    record: Record

    @classmethod
    def read(cls, folder: RunFolder) -> LocalRun:
        if not folder.has_run():
            raise ConfigError(f"{folder.path} is not a run folder (no {RUN_FILE}).")
        try:
            run = folder.read_run()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{folder.path / RUN_FILE} cannot be read: {exc}") from None
        if not isinstance(run, dict):
            raise ConfigError(f"{folder.path / RUN_FILE} is not a run.")
        try:
            lineage = json.loads((folder.path / LINEAGE_FILE).read_text())
        except (OSError, ValueError):
            lineage = []
        lineage = [e for e in lineage if isinstance(e, dict)] if isinstance(lineage, list) else []
        return cls(folder, run, lineage, Record.load(folder.path))

    @property
    def ids(self) -> tuple[str, str, str]:
        return _ids(self.run, self.folder.path)

    def reconciler(self, api: PolyaxonClient | None, artifacts: bool = True, **kwargs: Any) -> Reconciler:
        owner, project, uuid = self.ids
        if api is not None and self.record.server not in (None, api.config.host):
            # What another server confirmed says nothing of this one: everything is sent (or found there).
            forget(self.record)
            self.record.rejected, self.record.server = {}, api.config.host
        return Reconciler(self.folder.path, api, owner, project, uuid, self.record, uploads=artifacts, **kwargs)

    def plan(self, artifacts: bool = True) -> Plan:
        """What the server lacks (no network)."""
        return self.reconciler(None, artifacts).plan(self.run, self.lineage)

    @property
    def live_elsewhere(self) -> bool:
        """Another process still writes the run (it sends it itself): alive, and the run is not done."""
        return self.record.live_elsewhere() and self.run.get("status") not in DONE

    @property
    def state(self) -> str:
        """running (its process is alive), crashed (it died without ending the run), or the run's status."""
        if self.live_elsewhere:
            return "running"
        if self.record.crashed() and self.run.get("status") not in DONE:
            return "crashed"
        return str(self.run.get("status") or "unknown")

    def end_crashed(self, api: PolyaxonClient | None) -> bool:
        """The process died without ending the run: end it ``failed`` (or as the server already ended it)."""
        if not self.record.crashed() or self.run.get("status") in DONE:
            return False
        owner = self.record.owner_process()
        status, message = "failed", (
            f"The process that ran it (pid {owner.pid if owner else '?'}) ended without ending the run "
            "(killed, or out of memory); what it had written was sent by polyaxon-integrations sync."
        )
        if api is not None and self.record.created:
            try:
                server = api.get_run(*self.ids).get("status")
            except ApiError:
                server = None
            if server in DONE:
                status, message = str(server), "Ended on the server before the folder was synced."
        from .state import RunState

        state = RunState.from_server(self.run, self.run.get("owner") or "", self.run.get("project") or "")
        state.set_status(status, "PolyaxonIntegrations", message)
        self.run = state.to_json()
        write_json_atomic(self.folder.path / RUN_FILE, self.run)
        self.record.ended = True
        return True


@contextmanager
def sync_lock(folder: RunFolder) -> Iterator[bool]:
    """Hold the folder's sync lock if no other process does (True), so two syncs never interleave."""
    try:
        import fcntl
    except ImportError:  # not on Windows: no lock, as before
        yield True
        return
    try:
        fh = open(folder.path / ".sync.lock", "a")
    except OSError:
        yield True
        return
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True


def push_folder(
    api: PolyaxonClient,
    folder: RunFolder,
    project: str | None = None,
    artifacts: bool = True,
    progress: Callable[[int], None] | None = None,
) -> str:
    """Push one run folder; return ``owner/project/uuid``. ``project`` (``owner/p``) moves the run there."""
    with sync_lock(folder) as locked:
        if not locked:
            raise ConfigError(f"{folder.path} is being sent by another process right now; try again later.")
        return _push_folder(api, folder, project, artifacts, progress)


def _push_folder(
    api: PolyaxonClient,
    folder: RunFolder,
    project: str | None,
    artifacts: bool,
    progress: Callable[[int], None] | None,
) -> str:
    local = LocalRun.read(folder)
    if project:
        owner, _, name = project.rpartition("/")
        owner = owner or str(local.run.get("owner") or "default")
        if (owner, name) != (local.run.get("owner"), local.run.get("project")):
            local.run = {**local.run, "owner": owner, "project": name}
            write_json_atomic(folder.path / RUN_FILE, local.run)
            local.record = Record()  # a run the other project has never seen
    owner, name, uuid = local.ids
    if local.live_elsewhere:
        process = local.record.owner_process()
        raise ConfigError(
            f"{folder.path} is still being written by process {process.pid if process else '?'}; "
            "it sends its run itself."
        )
    local.end_crashed(api)
    reconciler = local.reconciler(api, artifacts, progress=progress)
    if local.record.created and not local.record.seeded:  # an older record: read what the server holds first
        try:
            reconciler.seed(local.run)
        except ApiError as exc:
            if exc.status_code != 404:
                raise
            local.record.created = False  # another server, or it was deleted: create it again
            local.record.files = {}
    left = reconciler.step(local.run, local.lineage)
    if left:
        raise ConfigError(f"{folder.path}: not everything could be sent ({left.describe()}); run sync again.")
    return f"{owner}/{name}/{uuid}"


def find_runs(paths: Iterable[Path] = (), everything: bool = False, root: Path | None = None) -> Iterator[RunFolder]:
    """Run folders to push: the given ones (a run folder, or a root with ``runs/``), or all pending under the root.

    Pending is derived (the folder against its record); runs whose process still writes them are left to it.
    """
    paths = list(paths)
    if everything or not paths:
        base = root or offline_root()
        for run_file in sorted((base / "runs").glob(f"*/{RUN_FILE}")):
            folder = RunFolder(run_file.parent)
            if not (owned_by_us(folder.path) and owned_by_us(run_file)):
                continue  # planted by another user under a shared root: never sent with our token
            try:
                local = LocalRun.read(folder)
                if local.live_elsewhere:
                    continue
                if everything or local.state == "crashed" or local.plan():
                    yield folder
            except ConfigError:
                yield folder  # push() reports why it cannot be pushed
        return
    for path in paths:
        if (path / RUN_FILE).exists():
            yield RunFolder(path)
        elif (path / "runs").is_dir():
            yield from find_runs(root=path, everything=True)
        else:
            raise ConfigError(f"{path} is neither a run folder (with {RUN_FILE}) nor a root with runs/.")


def push(
    folders: Iterable[RunFolder],
    api: PolyaxonClient,
    project: str | None = None,
    artifacts: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[RunFolder, str | None, Exception | None]]:
    """Push each folder, yielding ``(folder, owner/project/uuid or None, error or None)``."""
    for folder in folders:
        try:
            yield folder, push_folder(api, folder, project, artifacts, progress), None
        except (ApiError, ConfigError, OSError, ValueError) as exc:
            yield folder, None, exc


def recover_crashed(api: PolyaxonClient, server: str, root: Path | None = None) -> list[str]:
    """Send and end (``failed``) the runs under ``root`` whose process died without ending them.

    Only runs that were started against ``server`` (an offline run waits for a plain ``sync``). Run in the
    background by ``tracking.init``; returns ``owner/project/uuid`` of each run recovered.
    """
    recovered = []
    for run_file in sorted(((root or offline_root()) / "runs").glob(f"*/{RUN_FILE}")):
        folder = RunFolder(run_file.parent)
        if not owned_by_us(folder.path):
            continue
        try:
            record = Record.load(folder.path)  # small: the run and its lineage are read only for a crashed one
            if record.server != server or not record.crashed():
                continue
            local = LocalRun.read(folder)
            if local.state != "crashed":
                continue
            recovered.append(push_folder(api, folder))
        except (ApiError, ConfigError, OSError, ValueError):
            continue  # a plain `sync` reports it
    return recovered
