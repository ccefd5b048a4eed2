"""How a run begins: its state and folder, for each of the four situations ``init`` can be in.

Offline (a folder, no server), in-cluster (attach; the platform owns statuses and the
folder is the artifacts store), attach by uuid (read the run, it runs again), and new
(create it; if the server does not answer, the run starts locally and is sent later).
The only network call on the caller's thread in a run's life happens here, so a wrong
token or project fails at ``init``.
"""

from __future__ import annotations

import time
import uuid as _uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import env
from .client import PolyaxonClient
from .config import ClientConfig
from .context import Context
from .exceptions import ApiError, ConfigError, ServerUnreachableError
from .folder import RunFolder, ensure_offline_root
from .guard import warn_once
from .reconcile import FIELDS, confirm_created, matched_statuses
from .record import Record
from .run_client import RunClient
from .state import RunState
from .ui import mask_credentials

__all__ = ["Start", "start"]

T = TypeVar("T")


@dataclass
class Start:
    state: RunState
    folder: RunFolder
    #: None: no mirror (offline, or in-cluster without a server); else whether the server has the run.
    created_on_server: bool | None
    uploads: bool = True
    #: what the server has confirmed (seeded from its answer where it has the run)
    record: Record = field(default_factory=Record)
    #: attached to a run the server has: fetch its growing files before appending to them
    restore: bool = False


def _seeded(record: Record, data: dict[str, Any], state: RunState) -> Record:
    """The record of a run the server just described: its fields, and which of our statuses it holds."""
    record.created = record.seeded = True
    record.fields = {name: data.get(name) for name in FIELDS}
    theirs = data.get("status_conditions") or [{"type": data.get("status") or "created"}]
    record.statuses = matched_statuses(state.conditions, theirs)
    record.server_status = data.get("status") or "created"
    return record


def start(
    context: Context,
    run_client: Callable[[str | None], RunClient],
    name: str | None,
    description: str | None,
    tags: list[str],
) -> Start:
    if context.is_managed:
        return _managed(context, run_client)
    ensure_offline_root()  # a read-only or foreign root is an error before anything exists on the server
    if context.is_offline:
        return _offline(context, name, description, tags)
    if context.run_uuid:
        return _attached(context, _bounded(run_client), name, description, tags)
    return _new(context, _bounded(run_client), name, description, tags)


_AGAIN = frozenset({405, 502, 503, 504})  # answers worth another try within the budget (see client._Retry)


def _bounded(run_client: Callable[[str | None], RunClient]) -> Callable[[str | None], RunClient]:
    """``run_client`` for the calls ``init`` waits on, which together last ``POLYAXON_INTEGRATIONS_INIT_TIMEOUT`` s.

    The session's own retries would multiply the time a hung server costs (every read timeout
    again, with backoff), so here each try is one request with what is left of the budget as its
    timeout, and only a quick answer worth retrying is tried again.
    """
    budget = env.read_float(env.INIT_TIMEOUT, 3.5)  # + init's own work: within 5 s on a busy machine

    def make(run_uuid: str | None) -> RunClient:
        full = run_client(run_uuid)
        return _BoundedRunClient(full, budget)

    return make


def _single_try_client(config: ClientConfig) -> PolyaxonClient:
    """A client that sends each request once: no urllib3 retries, and a read timeout raised as such.

    (``Retry(total=0)`` would report an unanswered GET as "connection failed", which misleads for a hung server.)
    """
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    client = PolyaxonClient(config, retries=0)
    adapter = HTTPAdapter(max_retries=Retry(total=0, connect=0, read=False, status=0, redirect=0))
    client.session.mount("http://", adapter)
    client.session.mount("https://", adapter)
    return client


class _BoundedRunClient(RunClient):
    """A ``RunClient`` whose ``create`` and ``refresh_data`` share one deadline and send no session retries."""

    def __init__(self, full: RunClient, budget: float) -> None:
        super().__init__(owner=full.owner, project=full.project, run_uuid=full.run_uuid, client=full.client)
        self._config = full.client.config
        self._budget = budget
        self._deadline = time.monotonic() + budget

    def _try(self, call: Callable[[], T]) -> T:
        while True:
            left = self._deadline - time.monotonic()
            if left <= 0.05:
                raise ServerUnreachableError(
                    f"Polyaxon server {self._config.host} did not answer within {env.INIT_TIMEOUT}={self._budget:g} s"
                )
            self._client = _single_try_client(self._config.replace(timeout=left))
            try:
                return call()
            except ApiError as exc:
                if exc.status_code not in _AGAIN:
                    raise
                time.sleep(min(0.25, max(0.0, self._deadline - time.monotonic())))
            finally:
                self._client.close()

    def create(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._try(lambda: RunClient.create(self, *args, **kwargs))

    def refresh_data(self) -> dict[str, Any]:
        return self._try(lambda: RunClient.refresh_data(self))

    def create_as(self, run: Mapping[str, Any]) -> bool:
        return self._try(lambda: RunClient.create_as(self, run))


def _new_state(context: Context, run_uuid: str, name: str | None, description: str | None, tags: list[str]) -> RunState:
    state = RunState(
        uuid=run_uuid, owner=context.owner, project=context.project, name=name, description=description, tags=tags
    )
    state.set_status("created")
    return state


def _offline(context: Context, name: str | None, description: str | None, tags: list[str]) -> Start:
    run_uuid = context.run_uuid or _uuid.uuid4().hex
    folder = RunFolder.for_run(run_uuid).create()
    if folder.has_run():  # resuming an offline run
        state = RunState.from_server(folder.read_run(), context.owner, context.project)
    else:
        state = _new_state(context, run_uuid, name, description, tags)
    state.set_status("running")
    return Start(state, folder, created_on_server=None, record=Record.load(folder.path))


def _managed(context: Context, run_client: Callable[[str | None], RunClient]) -> Start:
    cluster = context.cluster
    assert cluster is not None and context.run_uuid
    folder = RunFolder(cluster.artifacts_path)
    folder.path.mkdir(parents=True, exist_ok=True)
    state = RunState(uuid=context.run_uuid, owner=context.owner, project=context.project)
    record = Record(created=True, seeded=True)
    if context.config is None:
        return Start(state, folder, created_on_server=None, record=record)
    try:  # read what the platform knows; statuses stay the platform's
        data = run_client(context.run_uuid).refresh_data()
        state = RunState.from_server(data, context.owner, context.project)
        _seeded(record, data, state)
    except ServerUnreachableError as exc:
        warn_once("managed-unreachable", f"{exc} Artifacts are still written to {folder.path}.")
    # the folder is the artifacts store: nothing to upload
    return Start(state, folder, created_on_server=True, uploads=False, record=record)


def _attached(
    context: Context,
    run_client: Callable[[str | None], RunClient],
    name: str | None,
    description: str | None,
    tags: list[str],
) -> Start:
    assert context.run_uuid
    client = run_client(context.run_uuid)
    try:
        data = client.refresh_data()
    except ApiError as exc:
        if exc.status_code == 404:
            raise ConfigError(
                f"Run {context.run_uuid} was not found in {context.owner}/{context.project} "
                f"on {mask_credentials(client.client.config.host or '')}: check run_uuid and project, "
                "or drop run_uuid to start a new run."
            ) from None
        raise
    state = RunState.from_server(data, context.owner, context.project)
    if name:
        state.name = name
    if description:
        state.description = description
    if tags:
        state.add_tags(tags)
    folder = RunFolder.for_run(state.uuid).create()
    record = _seeded(Record.load(folder.path), data, state)
    state.set_status("running")  # a finished run that is resumed (e.g. from a checkpoint) runs again
    return Start(state, folder, created_on_server=True, record=record, restore=True)


def _new(
    context: Context,
    run_client: Callable[[str | None], RunClient],
    name: str | None,
    description: str | None,
    tags: list[str],
) -> Start:
    """A new run, created on the server under a uuid chosen here (``runs/sync``).

    The uuid is ours so that a server too slow for ``init`` cannot leave an orphan: if it
    creates the run after ``init`` gave up, the mirror's next try finds that run and adopts it.
    """
    state = _new_state(context, _uuid.uuid4().hex, name, description, tags)
    state.set_status("running")  # created running: one request less than a "running" status sent after it
    record = Record(owned=True)  # nobody else can have this uuid: whatever the server has of it, we sent
    run = state.to_json()
    try:
        # "Already exists" can only be our own earlier try within the budget (a retried 405): the same body.
        run_client(None).create_as(run)
    except ServerUnreachableError as exc:
        # The run still happens: locally now, on the server when it answers again (or after sync).
        folder = RunFolder.for_run(state.uuid).create()
        warn_once(
            "init-unreachable",
            f"{exc} Logging to {folder.path}; it is sent when the server answers, or run `{folder.sync_command}`.",
        )
        return Start(state, folder, created_on_server=False, record=record)
    confirm_created(record, run)
    return Start(state, RunFolder.for_run(state.uuid).create(), created_on_server=True, record=record)
