"""What ``tracking.init`` gives a process that is not global rank 0 (see :mod:`.rank` for the rule).

A :class:`ReplicaRun` has the whole :class:`~.run.Run` surface, so the same script runs on
every rank, but its calls cost a method call and write nothing: the run's events, outputs,
lineage and statuses are rank 0's alone, and in-cluster each pod's sidecar would otherwise
copy its files over rank 0's. Two things a replica may still do:

- sample its pod's resources (local rank 0 of a pod in a Polyaxon job), under names that carry
  the pod, into its own context folder, from where its sidecar copies them into the run;
- with ``POLYAXON_INTEGRATIONS_LOG_ALL_RANKS=true`` (in-cluster), log metrics, text, outputs and
  files under ``<name>_rank<N>``, so every rank's curve is in the run without touching rank 0's.

>>> run = tracking.init()  # doctest: +SKIP
>>> run.log_metrics(step=0, loss=0.5)  # on rank 1: nothing, in ~100 ns  # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from . import env, process
from .context import InCluster, in_cluster, resolve
from .guard import get_logger
from .lineage import Lineage
from .rank import Replica
from .run import Run
from .system import SystemMonitor, SystemOptions, pod_prefix

__all__ = ["ReplicaRun", "start_replica"]

_told = False


def start_replica(replica: Replica, init_kwargs: dict[str, Any]) -> ReplicaRun:
    """The run object for rank ``replica.rank`` != 0; says once per process what it does."""
    cluster = in_cluster()
    per_rank = env.read_bool(env.LOG_ALL_RANKS)
    inner: Run | None = None
    if per_rank and cluster is not None:
        context = resolve(**{k: init_kwargs[k] for k in ("owner", "project", "run_uuid") if init_kwargs.get(k)})
        if context.is_managed:
            options = {k: init_kwargs.get(k) for k in ("end_timeout", "collect_resources")}
            inner = Run(context, track_code=False, track_env=False, track_logs=False, **options)
            inner._recorder.lineage = _ServerOnlyLineage(inner._recorder.root)  # before anything is recorded
    run = ReplicaRun(replica, cluster, inner, init_kwargs.get("collect_resources"))
    _announce(replica, run, per_rank)
    return run


def _announce(replica: Replica, run: ReplicaRun, per_rank: bool) -> None:
    global _told
    if _told:
        return
    _told = True
    if run.per_rank:
        what = f"it logs under <name>_rank{replica.rank} ({env.LOG_ALL_RANKS})"
    elif per_rank:
        what = f"it logs nothing ({env.LOG_ALL_RANKS} needs a Polyaxon job, whose replicas share one run)"
    else:
        what = f"it logs nothing; rank 0 tracks the run (set {env.LOG_ALL_RANKS}=true to log every rank)"
    sampling = f", and samples pod {replica.label}'s resources" if run.samples_resources else ""
    get_logger().warning("polyaxon-integrations: %s: %s%s.", replica.describe(), what, sampling)


class ReplicaRun(Run):
    """A run object on a rank other than 0: every call of :class:`~.run.Run` is accepted; see the module."""

    def __init__(
        self, replica: Replica, cluster: InCluster | None, inner: Run | None, collect_resources: bool | None = None
    ) -> None:  # no Run.__init__: there is no run to start here
        self.replica = replica
        self._inner = inner
        self._cluster = cluster
        self._suffix = f"_rank{replica.rank}"
        self._ended = False
        self._end_lock = threading.Lock()
        self._monitor: SystemMonitor | None = None
        if inner is None and cluster is not None:
            self._monitor = _pod_monitor(replica, cluster, collect_resources)
        if self._monitor is not None:
            process.register(self)

    @property
    def per_rank(self) -> bool:
        """True when this rank logs (under rank-suffixed names)."""
        return self._inner is not None

    @property
    def samples_resources(self) -> bool:
        monitor = self._monitor
        if self._inner is not None:
            monitor = self._inner._system
        return monitor is not None and monitor.options.collect_resources

    def __repr__(self) -> str:
        return f"ReplicaRun({self.replica.describe()}, run={self.run_uuid or None})"

    # --- identity: what is known without a run --------------------------------------

    @property
    def run_uuid(self) -> str:
        """The job's run in-cluster; outside, only rank 0 knows it (empty)."""
        return self._cluster.run_uuid if self._cluster is not None else ""

    @property
    def owner(self) -> str:
        return self._cluster.owner if self._cluster is not None else ""

    @property
    def project(self) -> str:
        return self._cluster.project if self._cluster is not None else ""

    @property
    def name(self) -> str | None:
        return None

    @property
    def status(self) -> str | None:
        return None

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def is_managed(self) -> bool:
        return self._cluster is not None

    @property
    def is_offline(self) -> bool:
        return False

    @property
    def run_data(self) -> dict[str, Any]:
        return {}

    @property
    def url(self) -> str | None:
        return None

    @property
    def sync_command(self) -> str:
        return ""

    def dashboard_url(self, metrics: Iterable[str] | None = None, xaxis: str = "step") -> str | None:
        return None

    def get_artifacts_path(self) -> str:
        """This pod's folder for the run in-cluster (what the official client gives every replica)."""
        if self._inner is not None:
            return self._inner.get_artifacts_path()
        if self._cluster is not None:
            return str(self._cluster.artifacts_path)
        return os.getcwd()

    def get_outputs_path(self) -> str:
        if self._inner is not None:
            return self._inner.get_outputs_path()
        path = os.path.join(self.get_artifacts_path(), "outputs")
        os.makedirs(path, exist_ok=True)
        return path

    # --- logging: dropped, or forwarded under rank-suffixed names ---------------------

    def _log_metrics(self, step: Any, timestamp: Any, metrics: dict[str, Any]) -> None:
        if self._inner is not None:
            self._inner._log_metrics(step, timestamp, {f"{k}{self._suffix}": v for k, v in metrics.items()})

    def log_metrics(self, step: int | None = None, timestamp: Any = None, **metrics: Any) -> None:
        if self._inner is not None:
            self._log_metrics(step, timestamp, metrics)

    def log_metric(self, name: str, value: Any, step: int | None = None, timestamp: Any = None) -> None:
        if self._inner is not None:
            self._log_metrics(step, timestamp, {name: value})

    def log_dict(self, metrics: dict[str, Any], step: int | None = None, timestamp: Any = None) -> None:
        if self._inner is not None:
            self._log_metrics(step, timestamp, metrics)

    def log_text(self, name: str, text: str, step: int | None = None, timestamp: Any = None) -> None:
        if self._inner is not None:
            self._inner.log_text(name + self._suffix, text, step, timestamp)

    def log_outputs(self, reset: bool = False, **outputs: Any) -> None:
        if self._inner is not None:
            self._inner.log_outputs(**{f"{k}{self._suffix}": v for k, v in outputs.items()})

    def log_file(self, filename: str, content: str | bytes, kind: str = "file") -> str:
        if self._inner is None:
            return ""
        stem, dot, ext = filename.rpartition(".")
        named = f"{stem}{self._suffix}.{ext}" if dot and stem else filename + self._suffix
        return self._inner.log_file(named, content, kind)

    def log_artifact(
        self, path: str | os.PathLike[str], name: str | None = None, kind: str = "file", rel_path: str | None = None
    ) -> str:
        if self._inner is None:
            return ""
        base = name or os.path.basename(os.fspath(path).rstrip("/"))
        return self._inner.log_artifact(path, base + self._suffix, kind, rel_path)

    def log_model(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        framework: str | None = None,
        step: int | None = None,
        timestamp: Any = None,
        summary: dict[str, Any] | None = None,
    ) -> str:
        if self._inner is None:
            return ""
        base = name or os.path.splitext(os.path.basename(os.fspath(path).rstrip("/")))[0]
        return self._inner.log_model(path, base + self._suffix, framework, step, timestamp, summary)

    def flush(self, timeout: float = 10.0) -> bool:
        return self._inner.flush(timeout) if self._inner is not None else True

    def end(self, status: str = "succeeded", message: str | None = None, timeout: float | None = None) -> bool:
        with self._end_lock:
            if self._ended:
                return True
            self._ended = True
        process.unregister(self)
        if self._monitor is not None:
            self._monitor.close(5.0 if timeout is None else min(timeout, 5.0))
        if self._inner is not None:
            return self._inner.end(status, message=message, timeout=timeout)
        return True

    def _end_at_exit(self, status: str, message: str | None) -> None:
        self.end(status, message=message)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.end()


class _ServerOnlyLineage(Lineage):
    """A replica's lineage goes to the server only: ``lineages.plx.json`` in the store is rank 0's (one writer)."""

    def add(self, *entries: dict[str, Any]) -> None:
        with self._lock:
            for entry in entries:
                self._entries[(entry["kind"], entry["name"])] = entry


def _noop(name: str) -> Callable[..., None]:
    def call(self: ReplicaRun, *args: Any, **kwargs: Any) -> None:
        """Rank 0's alone (inputs, tags, name, status...): nothing on this rank."""

    call.__name__ = call.__qualname__ = name
    return call


# Every other call of Run (inputs, tags, name, description, status, and whatever Run gains later,
# e.g. media) is rank 0's alone: a no-op here, so a replica never writes through Run's machinery.
# Run's own methods and those of its mixins (the rich events of core/rich.py, the refs...), all of them.
for _klass in Run.__mro__[:-1]:
    for _name, _member in list(vars(_klass).items()):
        if callable(_member) and not _name.startswith("__") and _name not in vars(ReplicaRun):
            setattr(ReplicaRun, _name, _noop(_name))


def _pod_monitor(replica: Replica, cluster: InCluster, collect_resources: bool | None) -> SystemMonitor | None:
    """Local rank 0 of a pod samples the pod's resources as rank 0 does, named after the pod."""
    if not replica.is_local_main:
        return None
    wanted = env.read_bool(env.COLLECT_RESOURCES, False) if collect_resources is None else collect_resources
    if not wanted:
        return None
    options = SystemOptions(
        track_code=False,
        track_env=False,
        track_logs=False,
        collect_resources=True,
        interval=max(env.read_float(env.RESOURCES_INTERVAL, 5.0), 0.05),
        resource_prefix=pod_prefix(replica),
    )
    return SystemMonitor(options, None, None, root=cluster.artifacts_path)
