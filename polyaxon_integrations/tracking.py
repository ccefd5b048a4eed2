"""The module-level tracking API, shaped like ``polyaxon.tracking``.

>>> from polyaxon_integrations import tracking
>>> run = tracking.init(project="acme/demo", name="baseline")  # doctest: +SKIP
>>> tracking.log_inputs(lr=0.01, batch_size=32)  # doctest: +SKIP
>>> tracking.end()  # doctest: +SKIP

``init`` resolves the context (see :mod:`polyaxon_integrations.core.context`), then
creates, resumes or attaches a run and makes it the current one. ``POLYAXON_NO_OP=true``
turns every call here into a no-op, for dry runs and unit tests of user code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from .core import current, env
from .core.exceptions import PolyaxonError
from .core.options import clean_options

if TYPE_CHECKING:
    from .core.client import PolyaxonClient
    from .core.run import Run
    from .core.run_client import RunClient

__all__ = [
    "Run",
    "end",
    "flush",
    "log_artifact",
    "log_file",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_text",
    "get_artifacts_path",
    "get_outputs_path",
    "get_run",
    "init",
    "log_inputs",
    "log_outputs",
    "log_status",
    "log_tags",
    "set_description",
    "set_name",
]

F = TypeVar("F", bound=Callable[..., Any])


def init(
    owner: str | None = None,
    project: str | None = None,
    run_uuid: str | None = None,
    client: PolyaxonClient | RunClient | None = None,
    is_new: bool | None = None,
    is_offline: bool | None = None,
    name: str | None = None,
    description: str | None = None,
    tags: str | Iterable[str] | None = None,
    end_timeout: float | None = None,
    track_code: bool | None = None,
    track_env: bool | None = None,
    track_logs: bool | None = None,
    collect_resources: bool | None = None,
) -> Run | None:
    """Start (or resume, or attach to) a run and make it current.

    Precedence: ``client`` > in-cluster context > ``POLYAXON_HOST``/``POLYAXON_AUTH_TOKEN`` >
    the Polyaxon CLI's files; ``project``/``owner``/``run_uuid`` override the cached ones
    (``POLYAXON_RUN_UUID`` names a run to continue when ``run_uuid`` is not given).
    Raises :class:`~polyaxon_integrations.exceptions.NoContextError` listing what was checked
    when nothing says where to log.

    ``track_code`` (git commit, branch, remote, dirty), ``track_env`` (``outputs/env.json``),
    ``track_logs`` (stdout/stderr into the Logs tab) and ``collect_resources`` (CPU, memory,
    disk, network, GPU) default to on, or to their environment variables, and to off
    in-cluster (see :mod:`polyaxon_integrations.core.system`).
    """
    options = clean_options(
        dict(
            owner=owner,
            project=project,
            run_uuid=run_uuid,
            client=client,
            is_new=is_new,
            is_offline=is_offline,
            name=name,
            description=description,
            tags=tags,
            end_timeout=end_timeout,
            track_code=track_code,
            track_env=track_env,
            track_logs=track_logs,
            collect_resources=collect_resources,
        )
    )
    return current.start(options, by_user=True)


def __getattr__(name: str) -> Any:
    """``tracking.Run`` without loading the core at import (PEP 562)."""
    if name == "Run":
        from .core.run import Run

        return Run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_run() -> Run | None:
    """The current run, or None before ``init`` (or with ``POLYAXON_NO_OP``)."""
    return current.RUN


def _current(fn: F) -> F:
    """Delegate to the current run; a no-op under ``POLYAXON_NO_OP``; a clear error before ``init``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        run = current.RUN
        if run is None:
            return _no_run(fn.__name__)
        return getattr(run, fn.__name__)(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _no_run(name: str) -> None:
    if not env.read_bool(env.NO_OP):
        raise PolyaxonError(f"tracking.{name}() needs a run: call tracking.init() first.")


def log_metrics(step: int | None = None, timestamp: Any = None, **metrics: Any) -> None:
    """Log scalar metrics at ``step`` (enqueued; written and uploaded in the background).

    Written out rather than through ``_current``: this is the call inside training loops.
    """
    run = current.RUN
    if run is None:
        _no_run("log_metrics")
        return
    run.log_dict(metrics, step, timestamp)  # ``metrics`` is this call's own dict


@_current
def log_metric(name: str, value: Any, step: int | None = None, timestamp: Any = None) -> None:
    """Log one scalar metric."""


@_current
def log_text(name: str, text: str, step: int | None = None, timestamp: Any = None) -> None:
    """Log a text event."""


@_current
def log_artifact(path: str, name: str | None = None, kind: str = "file", rel_path: str | None = None) -> str:
    """Copy a file or folder into the run, upload it and record it in lineage."""
    return ""


@_current
def log_model(
    path: str,
    name: str | None = None,
    framework: str | None = None,
    step: int | None = None,
    timestamp: Any = None,
    summary: dict[str, Any] | None = None,
) -> str:
    """Save a model with the run (a model event when ``step`` is given)."""
    return ""


@_current
def log_file(filename: str, content: str | bytes, kind: str = "file") -> str:
    """Save ``content`` as ``outputs/<filename>`` with the run, recorded in lineage."""
    return ""


@_current
def flush(timeout: float = 10.0) -> bool:
    """Write what was logged to disk and wait for the server to have it."""
    return True


@_current
def log_inputs(reset: bool = False, **inputs: Any) -> None:
    """Record hyperparameters (merged into the run's inputs)."""


@_current
def log_outputs(reset: bool = False, **outputs: Any) -> None:
    """Record results (merged into the run's outputs)."""


@_current
def log_tags(tags: str | Iterable[str], reset: bool = False) -> None:
    """Add tags to the run."""


@_current
def set_name(name: str) -> None:
    """Rename the run (made a valid slug)."""


@_current
def set_description(description: str) -> None:
    """Set the run's description."""


@_current
def log_status(status: str, reason: str | None = None, message: str | None = None) -> None:
    """Set the run's status; a final status ends the run."""


@_current
def get_artifacts_path() -> str:
    """The run's local artifacts folder."""
    return ""


@_current
def get_outputs_path() -> str:
    """The run's local ``outputs/`` folder."""
    return ""


def end(status: str = "succeeded", message: str | None = None, timeout: float | None = None) -> bool:
    """End the current run (idempotent); True when the server has everything."""
    run = current.RUN
    if run is None:
        return True
    return run.end(status, message=message, timeout=timeout)
