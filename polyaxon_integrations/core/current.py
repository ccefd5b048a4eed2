"""The current run of the process, and the one place a run is started.

``tracking.init()`` and the adapters both start runs here. The registry remembers who started
the current run, because an adapter given no context reuses a run *the user* started with
``tracking.init()`` (as peers reuse ``wandb.run`` or MLflow's active run), never one another
adapter started for itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import env
from .options import InitOptions

if TYPE_CHECKING:
    from .run import Run

__all__ = ["get", "start", "user_run"]

#: The current run (read directly by ``tracking.log_metrics``: one attribute, no call).
RUN: Run | None = None
_BY_USER = False


def get() -> Run | None:
    """The current run, or None before any run started (or under ``POLYAXON_NO_OP``)."""
    return RUN


def user_run() -> Run | None:
    """The current run if the user started it with ``tracking.init()`` and it is still open."""
    run = RUN
    return run if run is not None and _BY_USER and not run.ended else None


def start(options: InitOptions, *, by_user: bool) -> Run | None:
    """Resolve the context, start (or resume, or attach to) a run; None under ``POLYAXON_NO_OP``.

    ``by_user``: ``tracking.init()``; the run becomes current. An adapter's run becomes current
    only when no open run the user started is (so ``tracking.log_*`` in user code keeps its target).
    """
    global RUN, _BY_USER
    if env.read_bool(env.NO_OP):
        if by_user:
            RUN, _BY_USER = None, False
        return None
    from .rank import detect  # the core loads with the first run, not at import

    replica = detect()
    if not replica.is_main:  # distributed: global rank 0 alone tracks the run (see core/rank.py)
        from .replica import start_replica

        wanted = {key: options.get(key) for key in ("owner", "project", "run_uuid", "end_timeout")}
        copy = start_replica(replica, {**wanted, "collect_resources": options.get("collect_resources")})
        if by_user or user_run() is None:
            RUN, _BY_USER = copy, by_user  # the same calls, as no-ops
        return copy
    from .context import resolve
    from .run import Run

    context = resolve(
        owner=options.get("owner"),
        project=options.get("project"),
        run_uuid=options.get("run_uuid"),
        client=options.get("client"),
        is_new=options.get("is_new"),
        is_offline=options.get("is_offline"),
    )
    tags = options.get("tags")
    run = Run(
        context,
        name=options.get("name"),
        description=options.get("description"),
        tags=[tags] if isinstance(tags, str) else tags,
        end_timeout=options.get("end_timeout"),
        track_code=options.get("track_code"),
        track_env=options.get("track_env"),
        track_logs=options.get("track_logs"),
        collect_resources=options.get("collect_resources"),
    )
    if by_user or user_run() is None:
        RUN, _BY_USER = run, by_user
    return run


def forget(run: Run | None = None) -> None:
    """No current run (tests; ``run`` given: only if it is the current one)."""
    global RUN, _BY_USER
    if run is None or RUN is run:
        RUN, _BY_USER = None, False
