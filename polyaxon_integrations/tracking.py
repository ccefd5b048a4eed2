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

    In a distributed job only global rank 0 starts the run; other ranks get a run whose calls
    do nothing (see :mod:`polyaxon_integrations.core.rank` and docs/distributed.md).
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


# --- rich events, lineage references, meta and statuses (core/rich.py, core/refs.py) -----------------

__all__ += [
    "get_or_create_run",
    "get_tensorboard_path",
    "log_altair_chart",
    "log_artifact_lineage",
    "log_artifact_ref",
    "log_audio",
    "log_bokeh_chart",
    "log_code_ref",
    "log_confusion_matrix",
    "log_curve",
    "log_data_ref",
    "log_dataframe",
    "log_dir_ref",
    "log_env",
    "log_failed",
    "log_file_ref",
    "log_histogram",
    "log_html",
    "log_image",
    "log_image_with_boxes",
    "log_meta",
    "log_model_ref",
    "log_mpl_image",
    "log_mpl_plotly_chart",
    "log_np_histogram",
    "log_plotly_chart",
    "log_pr_curve",
    "log_progress",
    "log_roc_auc_curve",
    "log_sklearn_pr_curve",
    "log_sklearn_roc_auc_curve",
    "log_stopped",
    "log_succeeded",
    "log_tensorboard_ref",
    "log_video",
    "promote_to_artifact_version",
    "promote_to_model_version",
    "set_artifacts_path",
    "set_readme",
]


def get_or_create_run(tracking_run: Run | None = None) -> Run | None:
    """``tracking_run`` if given, else the current run, else a new one from ``init()``'s defaults."""
    if tracking_run is not None:
        return tracking_run
    current_run = current.get()
    if current_run is not None:
        return current_run
    return init()


@_current
def log_image(
    data: Any,
    name: str | None = None,
    step: int | None = None,
    timestamp: Any = None,
    rescale: int = 1,
    dataformats: str = "CHW",
    ext: str | None = None,
) -> None:
    """An image: a file, an array or tensor (CHW by default), a PIL image; encoded as PNG off your thread."""


@_current
def log_image_with_boxes(
    tensor_image: Any,
    tensor_boxes: Any,
    name: str | None = None,
    step: int | None = None,
    timestamp: Any = None,
    rescale: int = 1,
    dataformats: str = "CHW",
) -> None:
    """An image with ``[x1, y1, x2, y2]`` boxes drawn in red."""


@_current
def log_mpl_image(
    data: Any, name: str | None = None, close: bool = True, step: int | None = None, timestamp: Any = None
) -> None:
    """A matplotlib figure (or a list of them) as an image."""


@_current
def log_video(
    data: Any,
    name: str | None = None,
    fps: int = 4,
    step: int | None = None,
    timestamp: Any = None,
    content_type: str | None = None,
) -> None:
    """A video file, or an array ``(batch, time, channels, height, width)`` as a GIF."""


@_current
def log_audio(
    data: Any,
    name: str | None = None,
    sample_rate: int = 44100,
    step: int | None = None,
    timestamp: Any = None,
    content_type: str | None = None,
) -> None:
    """An audio file, or mono samples in [-1, 1] as a WAV."""


@_current
def log_html(name: str, html: str, step: int | None = None, timestamp: Any = None) -> None:
    """An HTML snippet."""


@_current
def log_histogram(
    name: str, values: Any, bins: Any, max_bins: int | None = None, step: int | None = None, timestamp: Any = None
) -> None:
    """A histogram of ``values`` (copied on your thread, binned off it)."""


@_current
def log_np_histogram(name: str, values: Any, counts: Any, step: int | None = None, timestamp: Any = None) -> None:
    """A histogram already binned (``values``: counts per bin, ``counts``: the edges)."""


@_current
def log_roc_auc_curve(
    name: str, fpr: Any, tpr: Any, auc: float | None = None, step: int | None = None, timestamp: Any = None
) -> None:
    """A ROC curve."""


@_current
def log_sklearn_roc_auc_curve(
    name: str,
    y_preds: Any,
    y_targets: Any,
    step: int | None = None,
    timestamp: Any = None,
    is_multi_class: bool = False,
) -> None:
    """A ROC curve computed by scikit-learn (off your thread)."""


@_current
def log_pr_curve(
    name: str,
    precision: Any,
    recall: Any,
    average_precision: float | None = None,
    step: int | None = None,
    timestamp: Any = None,
) -> None:
    """A precision-recall curve."""


@_current
def log_sklearn_pr_curve(
    name: str,
    y_preds: Any,
    y_targets: Any,
    step: int | None = None,
    timestamp: Any = None,
    is_multi_class: bool = False,
) -> None:
    """A precision-recall curve computed by scikit-learn (off your thread)."""


@_current
def log_curve(
    name: str, x: Any, y: Any, annotation: str | None = None, step: int | None = None, timestamp: Any = None
) -> None:
    """Any x/y curve."""


@_current
def log_confusion_matrix(
    name: str, x: Any, y: Any, z: Any = None, step: int | None = None, timestamp: Any = None
) -> None:
    """A confusion matrix: labels ``x``, ``y`` and the square ``z``."""


@_current
def log_plotly_chart(name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
    """A plotly figure."""


@_current
def log_bokeh_chart(name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
    """A bokeh figure."""


@_current
def log_altair_chart(name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
    """An altair (vega-lite) chart."""


@_current
def log_mpl_plotly_chart(
    name: str,
    figure: Any,
    step: int | None = None,
    timestamp: Any = None,
    close: bool = True,
    fallback_to_image: bool = True,
) -> None:
    """A matplotlib figure as a plotly chart (an image if plotly cannot convert it)."""


@_current
def log_dataframe(
    df: Any, name: str, content_type: str = "csv", step: int | None = None, timestamp: Any = None
) -> None:
    """A data frame as CSV or HTML."""


@_current
def log_artifact_ref(
    path: str,
    kind: Any,
    name: str | None = None,
    hash: str | None = None,
    content: Any = None,
    summary: dict[str, Any] | None = None,
    is_input: bool = False,
    rel_path: str | None = None,
    skip_hash_calculation: bool = False,
) -> None:
    """Record a file or folder in lineage without copying it."""


@_current
def log_model_ref(
    path: str,
    name: str | None = None,
    framework: str | None = None,
    summary: dict[str, Any] | None = None,
    is_input: bool = False,
    rel_path: str | None = None,
    skip_hash_calculation: bool = False,
) -> None:
    """Record a model in lineage without copying it."""


@_current
def log_file_ref(
    path: str,
    name: str | None = None,
    hash: str | None = None,
    content: Any = None,
    summary: dict[str, Any] | None = None,
    is_input: bool = False,
    rel_path: str | None = None,
    skip_hash_calculation: bool = False,
) -> None:
    """Record a file in lineage without copying it."""


@_current
def log_dir_ref(
    path: str,
    name: str | None = None,
    hash: str | None = None,
    summary: dict[str, Any] | None = None,
    is_input: bool = False,
    rel_path: str | None = None,
    skip_hash_calculation: bool = False,
) -> None:
    """Record a folder in lineage without copying it."""


@_current
def log_data_ref(
    name: str,
    hash: str | None = None,
    path: str | None = None,
    content: Any = None,
    summary: dict[str, Any] | None = None,
    is_input: bool = True,
    skip_hash_calculation: bool = False,
) -> None:
    """Record a data set the run read (an input)."""


@_current
def log_code_ref(code_ref: dict[str, Any] | None = None, is_input: bool = True) -> None:
    """Record the git commit (read from the working directory when not given)."""


@_current
def log_env(rel_path: str | None = None, content: dict[str, Any] | None = None) -> None:
    """Write ``outputs/env.json`` and record it in lineage."""


@_current
def log_tensorboard_ref(
    path: str, name: str = "tensorboard", is_input: bool = False, rel_path: str | None = None
) -> None:
    """Record a TensorBoard folder in lineage (once per run)."""


@_current
def get_tensorboard_path(rel_path: str = "tensorboard", use_store_path: bool = False) -> str:
    """``outputs/tensorboard`` of the run, created and recorded in lineage."""
    return ""


@_current
def log_artifact_lineage(body: Any, async_req: bool = True) -> None:
    """Add lineage entries as given."""


@_current
def log_meta(reset: bool = False, async_req: bool = True, **meta: Any) -> None:
    """Merge into the run's ``meta_info``."""


@_current
def log_progress(value: float) -> None:
    """The run's progress in [0, 1]."""


@_current
def set_readme(readme: str, async_req: bool = True) -> None:
    """The run's readme (markdown)."""


@_current
def log_succeeded(reason: str | None = None, message: str | None = "Operation has succeeded") -> None:
    """End the run ``succeeded``."""


@_current
def log_failed(reason: str | None = None, message: str | None = None) -> None:
    """End the run ``failed``."""


@_current
def log_stopped(reason: str | None = None, message: str | None = "Operation is stopped") -> None:
    """End the run ``stopped``."""


@_current
def promote_to_model_version(
    version: str,
    description: str | None = None,
    tags: str | list[str] | None = None,
    content: str | dict[str, Any] | None = None,
    connection: str | None = None,
    artifacts: list[str] | None = None,
    force: bool = False,
) -> dict[str, Any] | None:
    """Make the run a model version of its project (online runs)."""
    return None


@_current
def promote_to_artifact_version(
    version: str,
    description: str | None = None,
    tags: str | list[str] | None = None,
    content: str | dict[str, Any] | None = None,
    connection: str | None = None,
    artifacts: list[str] | None = None,
    force: bool = False,
) -> dict[str, Any] | None:
    """Make the run an artifact version of its project (online runs)."""
    return None


@_current
def set_artifacts_path(artifacts_path: str | None = None, is_related: bool = False) -> None:
    """Kept for compatibility: the run's folder is chosen at ``init``."""
