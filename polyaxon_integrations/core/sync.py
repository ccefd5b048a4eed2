"""``sync``: make the server hold everything a run folder holds. Idempotent; safe to re-run.

Used for offline runs, for runs left pending after an outage, and by the mirror when the
server was unreachable at ``init``. The steps are the official ``polyaxon ops push``'s
(run, lineage, artifacts) with two differences: a run the server already has is updated
rather than refused, and statuses it lacks are added in order.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .client import PolyaxonClient
from .exceptions import ApiError, ConfigError
from .folder import RUN_FILE, RunFolder, archive, offline_root
from .lineage import Lineage

__all__ = ["ensure_run", "find_runs", "push", "push_folder"]


def ensure_run(api: PolyaxonClient, owner: str, project: str, run: dict[str, Any]) -> bool:
    """Create the run from its JSON if the server lacks it (and its project); True if it was created."""
    body = {**run, "owner": owner, "project": project}
    try:
        api.sync_run(owner, project, body)
        return True
    except ApiError as exc:
        if exc.status_code == 400 and "already exists" in str(exc):
            return False
        if exc.status_code != 404:
            raise
    api.ensure_project(owner, project)
    api.sync_run(owner, project, body)
    return True


def _update_existing(api: PolyaxonClient, owner: str, project: str, run: dict[str, Any]) -> None:
    uuid = run["uuid"]
    patch = {key: run[key] for key in ("name", "description", "tags", "inputs", "outputs", "meta_info") if run.get(key)}
    if patch:
        api.patch_run(owner, project, uuid, {**patch, "merge": True})
    have = {c.get("type") for c in api.get_statuses(owner, project, uuid).get("status_conditions") or []}
    for condition in run.get("status_conditions") or []:
        if condition.get("type") not in have:
            api.create_status(owner, project, uuid, condition)
            have.add(condition.get("type"))


def push_folder(api: PolyaxonClient, folder: RunFolder, project: str | None = None, artifacts: bool = True) -> str:
    """Push one run folder; return ``owner/project/uuid``. ``project`` (``owner/p``) overrides the folder's."""
    if not folder.has_run():
        raise ConfigError(f"{folder.path} is not a run folder (no {RUN_FILE}).")
    run = folder.read_run()
    owner, name = run.get("owner"), run.get("project")
    if project:
        owner, _, name = project.rpartition("/")
        owner = owner or run.get("owner") or "default"
    if not owner or not name:
        raise ConfigError(f"{folder.path / RUN_FILE} names no project: pass --project owner/name.")
    state = folder.read_sync_state()
    created = False
    if not state.get("created_on_server"):
        created = ensure_run(api, owner, name, run)
    if not created:
        try:
            _update_existing(api, owner, name, run)
        except ApiError as exc:  # marked created, but this server lacks it (another server, or reset)
            if exc.status_code != 404:
                raise
            ensure_run(api, owner, name, run)
    folder.write_sync_state({"pending": True, "created_on_server": True})
    lineage = Lineage(folder.path).entries()
    if lineage:
        api.create_lineage(owner, name, run["uuid"], lineage)
    if artifacts:
        with tempfile.TemporaryDirectory(prefix="plx-sync-") as tmp:
            target = Path(tmp) / "run.tar.gz"
            if archive(folder.path, target, bookkeeping=False):
                api.upload_tar(owner, name, run["uuid"], target, "/")
    folder.write_sync_state({"pending": False, "created_on_server": True})
    return f"{owner}/{name}/{run['uuid']}"


def find_runs(paths: Iterable[Path] = (), everything: bool = False, root: Path | None = None) -> Iterator[RunFolder]:
    """Run folders to push: the given ones (a run folder, or a root with ``runs/``), or all pending under the root."""
    paths = list(paths)
    if everything or not paths:
        base = root or offline_root()
        for run_file in sorted((base / "runs").glob(f"*/{RUN_FILE}")):
            folder = RunFolder(run_file.parent)
            if everything or folder.read_sync_state().get("pending", True):
                yield folder
        return
    for path in paths:
        if (path / RUN_FILE).exists():
            yield RunFolder(path)
        elif (path / "runs").is_dir():
            yield from find_runs(root=path, everything=True)
        else:
            raise ConfigError(f"{path} is neither a run folder (with {RUN_FILE}) nor a root with runs/.")


def push(
    folders: Iterable[RunFolder], api: PolyaxonClient, project: str | None = None, artifacts: bool = True
) -> Iterator[tuple[RunFolder, str | None, Exception | None]]:
    """Push each folder, yielding ``(folder, owner/project/uuid or None, error or None)``."""
    for folder in folders:
        try:
            yield folder, push_folder(api, folder, project, artifacts), None
        except (ApiError, ConfigError, OSError, ValueError) as exc:
            yield folder, None, exc
