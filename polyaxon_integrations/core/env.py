"""Every environment variable the package reads, named once, with typed readers.

Keeping the names in one module means the docs can be generated from it and no
adapter grows its own boolean idiom. Readers raise :class:`ConfigError` naming the
variable, so a typo in a job spec fails loudly at ``init`` rather than mid-training.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .exceptions import ConfigError

__all__ = [
    "ENV_VARS",
    "LAUNCHER_VARS",
    "read_bool",
    "read_float",
    "read_int",
    "read_str",
    "parse_bool",
]

# Connection (official names: the official CLI and client read the same variables).
HOST = "POLYAXON_HOST"
AUTH_TOKEN = "POLYAXON_AUTH_TOKEN"
AUTH_USERNAME = "POLYAXON_AUTH_USERNAME"
AUTHENTICATION_TYPE = "POLYAXON_AUTHENTICATION_TYPE"
API_VERSION = "POLYAXON_API_VERSION"
VERIFY_SSL = "POLYAXON_VERIFY_SSL"
SSL_CA_CERT = "POLYAXON_SSL_CA_CERT"
CERT_FILE = "POLYAXON_CERT_FILE"
KEY_FILE = "POLYAXON_KEY_FILE"
TIMEOUT = "POLYAXON_TIMEOUT"

# Modes.
IS_OFFLINE = "POLYAXON_IS_OFFLINE"
NO_OP = "POLYAXON_NO_OP"
IS_MANAGED = "POLYAXON_IS_MANAGED"
K8S_IN_CLUSTER = "POLYAXON_K8S_IN_CLUSTER"
K8S_NAMESPACE = "POLYAXON_K8S_NAMESPACE"
RUN_INSTANCE = "POLYAXON_RUN_INSTANCE"

# Paths.
HOME = "POLYAXON_HOME"
NO_CONFIG = "POLYAXON_NO_CONFIG"
CONTEXT_ROOT = "POLYAXON_CONTEXT_ROOT"
ARTIFACTS_ROOT = "POLYAXON_ARTIFACTS_ROOT"
OFFLINE_ROOT = "POLYAXON_OFFLINE_ROOT"
ARCHIVES_ROOT = "POLYAXON_ARCHIVES_ROOT"

# Ours (not read by the official client).
PROJECT = "POLYAXON_PROJECT"
RUN_UUID = "POLYAXON_RUN_UUID"  # the official client has none outside the cluster (it reads RUN_INSTANCE there)
END_TIMEOUT = "POLYAXON_END_TIMEOUT"
INIT_TIMEOUT = "POLYAXON_INTEGRATIONS_INIT_TIMEOUT"
RERAISE = "POLYAXON_INTEGRATIONS_RERAISE"
LOG_MODEL = "POLYAXON_LOG_MODEL"
AUTOLOAD = "POLYAXON_INTEGRATIONS_AUTOLOAD"

# What is recorded beside the metrics (``init`` arguments of the same names win over these).
COLLECT_RESOURCES = "POLYAXON_COLLECT_RESOURCES"  # official: Polyaxon sets it in-cluster (plugins)
TRACK_CODE = "POLYAXON_INTEGRATIONS_TRACK_CODE"
TRACK_ENV = "POLYAXON_INTEGRATIONS_TRACK_ENV"
TRACK_LOGS = "POLYAXON_INTEGRATIONS_TRACK_LOGS"
RESOURCES_INTERVAL = "POLYAXON_INTEGRATIONS_RESOURCES_INTERVAL"

# Distributed jobs (see core/rank.py): which pod this is (set by Polyaxon in every replica), and our opt-in.
K8S_POD_ID = "POLYAXON_K8S_POD_ID"
K8S_NODE_NAME = "POLYAXON_K8S_NODE_NAME"
LOG_ALL_RANKS = "POLYAXON_INTEGRATIONS_LOG_ALL_RANKS"

# The launchers' rank variables: read, never set. Polyaxon names no replica; the launcher does.
RANK = "RANK"  # torchrun, Kubeflow PyTorchJob (the pod's rank), accelerate, DeepSpeed
WORLD_SIZE = "WORLD_SIZE"
LOCAL_RANK = "LOCAL_RANK"
LOCAL_WORLD_SIZE = "LOCAL_WORLD_SIZE"
NODE_RANK = "NODE_RANK"  # Lightning's own launcher: the node's rank (with LOCAL_RANK, without RANK)
TF_CONFIG = "TF_CONFIG"  # Kubeflow TFJob, tf.distribute multi-worker
OMPI_RANK = "OMPI_COMM_WORLD_RANK"  # Open MPI (MPIJob, horovodrun over MPI)
OMPI_SIZE = "OMPI_COMM_WORLD_SIZE"
OMPI_LOCAL_RANK = "OMPI_COMM_WORLD_LOCAL_RANK"
OMPI_LOCAL_SIZE = "OMPI_COMM_WORLD_LOCAL_SIZE"
PMI_RANK = "PMI_RANK"  # MPICH, Intel MPI
PMI_SIZE = "PMI_SIZE"
MPI_LOCAL_RANK = "MPI_LOCALRANKID"
MPI_LOCAL_SIZE = "MPI_LOCALNRANKS"
HOROVOD_RANK = "HOROVOD_RANK"  # horovodrun over Gloo
HOROVOD_SIZE = "HOROVOD_SIZE"
HOROVOD_LOCAL_RANK = "HOROVOD_LOCAL_RANK"
HOROVOD_LOCAL_SIZE = "HOROVOD_LOCAL_SIZE"
SLURM_PROCID = "SLURM_PROCID"  # srun
SLURM_NTASKS = "SLURM_NTASKS"
SLURM_LOCALID = "SLURM_LOCALID"
SLURM_NNODES = "SLURM_NNODES"
JSM_RANK = "JSM_NAMESPACE_RANK"  # IBM LSF jsrun
JSM_SIZE = "JSM_NAMESPACE_SIZE"
JSM_LOCAL_RANK = "JSM_NAMESPACE_LOCAL_RANK"

# Rich events (images, histograms...; core/rich.py) and gradient/parameter histograms (_torch_watch.py).
MEDIA_BACKLOG_MB = "POLYAXON_INTEGRATIONS_MEDIA_BACKLOG_MB"
WATCH = "POLYAXON_WATCH"
WATCH_LOG_FREQ = "POLYAXON_WATCH_LOG_FREQ"

#: name -> (default, one-line meaning). The docs table is generated from this.
ENV_VARS: Mapping[str, tuple[str | None, str]] = {
    HOST: (None, "Server address, e.g. http://127.0.0.1:31833."),
    AUTH_TOKEN: (None, "API token (Polyaxon EE/Cloud; CE accepts any)."),
    AUTH_USERNAME: (None, "User name, as written by the CLI in `.auth`."),
    AUTHENTICATION_TYPE: ("Token", "Prefix of the Authorization header."),
    API_VERSION: ("v1", "REST API version."),
    VERIFY_SSL: ("true", "Verify TLS certificates."),
    SSL_CA_CERT: (None, "CA bundle used to verify the server."),
    CERT_FILE: (None, "Client certificate for mutual TLS."),
    KEY_FILE: (None, "Client key for mutual TLS."),
    TIMEOUT: ("20", "HTTP timeout in seconds."),
    IS_OFFLINE: ("false", "Log to a local folder only; push later with `sync`."),
    NO_OP: ("false", "Turn every tracking call into a no-op."),
    IS_MANAGED: ("false", "Set by Polyaxon scheduling for in-cluster runs."),
    K8S_IN_CLUSTER: ("false", "Set by Polyaxon scheduling inside Kubernetes."),
    K8S_NAMESPACE: ("polyaxon", "Namespace of the streams API."),
    RUN_INSTANCE: (None, "owner.project.runs.uuid of the scheduled run (in-cluster)."),
    HOME: ("~", "Folder holding the global `.polyaxon` config folder."),
    NO_CONFIG: ("false", "Ignore the CLI's config files."),
    CONTEXT_ROOT: ("/plx-context", "In-cluster context folder (artifacts, scoped token)."),
    ARTIFACTS_ROOT: ("/tmp/plx/artifacts", "Local artifacts root."),
    OFFLINE_ROOT: ("/tmp/plx/offline", "Root of run folders (`runs/<uuid>`)."),
    ARCHIVES_ROOT: ("/tmp/plx/archives", "Scratch folder for archives."),
    PROJECT: (None, "Default project (`p` or `owner/p`) when none is passed."),
    RUN_UUID: (None, "Run to continue when no `run_uuid` is passed (e.g. `report_to=\"polyaxon\"` after a restart)."),
    END_TIMEOUT: ("10", "Seconds `end()` waits for the server before leaving the rest for `sync`."),
    INIT_TIMEOUT: ("3.5", "Seconds `init` waits for the server to create or find the run; then it runs locally."),
    RERAISE: ("false", "Re-raise errors that are normally turned into warnings (tests)."),
    COLLECT_RESOURCES: ("true", "Sample CPU, memory, disk, network, GPU (in-cluster: as Polyaxon sets it)."),
    TRACK_CODE: ("true", "Record the git commit, branch, remote and dirty flag (false in-cluster)."),
    TRACK_ENV: ("true", "Write `outputs/env.json`: Python, platform, packages (false in-cluster)."),
    TRACK_LOGS: ("true", "Copy stdout/stderr into the run's logs (false in-cluster)."),
    RESOURCES_INTERVAL: ("5", "Seconds between two resource samples."),
    LOG_MODEL: ("false", "transformers `report_to`: `false`, `end` (the final model) or `checkpoint` (every save)."),
    MEDIA_BACKLOG_MB: ("256", "MB of images, histograms... waiting to be encoded; past it, new ones are dropped."),
    WATCH: (None, "transformers: histograms of `gradients`, `parameters` or `all` (the WANDB_WATCH values)."),
    WATCH_LOG_FREQ: ("100", "Steps between two histograms of `POLYAXON_WATCH`."),
    AUTOLOAD: ("true", 'Make `report_to="polyaxon"` known to transformers without importing our adapter.'),
    K8S_POD_ID: (None, "Set by Polyaxon in every replica: the pod's name; names each pod's resource series."),
    K8S_NODE_NAME: (None, "Set by Polyaxon in every replica: the node's name (used when the pod's is unknown)."),
    LOG_ALL_RANKS: ("false", "In a Polyaxon job every rank logs: rank 0 as usual, others as `<name>_rank<N>`."),
}

#: The launchers' variables that tell this process's rank, in the order they are looked at
#: (the first rank variable found wins; see :mod:`.rank`). Rendered as a second table in the docs.
LAUNCHER_VARS: Mapping[str, str] = {
    RANK: "Global rank (torchrun, accelerate, DeepSpeed; Kubeflow PyTorchJob: the pod's rank).",
    WORLD_SIZE: "Number of processes (with `RANK`).",
    LOCAL_RANK: "Rank within the node or pod (torchrun); alone, it is also the global rank (one node).",
    LOCAL_WORLD_SIZE: "Processes on this node or pod (torchrun).",
    NODE_RANK: "The node's rank, with `LOCAL_RANK` and no `RANK` (Lightning's launcher).",
    OMPI_RANK: "Open MPI (MPIJob, mpirun, horovodrun): global rank.",
    OMPI_SIZE: "Open MPI: number of processes.",
    OMPI_LOCAL_RANK: "Open MPI: rank within the node.",
    OMPI_LOCAL_SIZE: "Open MPI: processes on the node.",
    PMI_RANK: "MPICH / Intel MPI: global rank.",
    PMI_SIZE: "MPICH / Intel MPI: number of processes.",
    MPI_LOCAL_RANK: "MPICH / Intel MPI: rank within the node.",
    MPI_LOCAL_SIZE: "MPICH / Intel MPI: processes on the node.",
    HOROVOD_RANK: "horovodrun (Gloo): global rank.",
    HOROVOD_SIZE: "horovodrun (Gloo): number of processes.",
    HOROVOD_LOCAL_RANK: "horovodrun (Gloo): rank within the node.",
    HOROVOD_LOCAL_SIZE: "horovodrun (Gloo): processes on the node.",
    SLURM_PROCID: "Slurm `srun`: global rank.",
    SLURM_NTASKS: "Slurm: number of tasks.",
    SLURM_LOCALID: "Slurm: rank within the node.",
    SLURM_NNODES: "Slurm: number of nodes.",
    JSM_RANK: "IBM LSF `jsrun`: global rank.",
    JSM_SIZE: "IBM LSF `jsrun`: number of processes.",
    JSM_LOCAL_RANK: "IBM LSF `jsrun`: rank within the node.",
    TF_CONFIG: "Kubeflow TFJob / tf.distribute: `task.type` `chief` (or `worker` 0 when no chief) is rank 0.",
}

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f", ""})


def parse_bool(name: str, value: str) -> bool:
    """The single boolean parser: 1/true/yes/on and 0/false/no/off, anything else is an error."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean: use one of true/false, 1/0, yes/no, on/off.")


def read_str(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's value, or None when unset or blank."""
    value = (os.environ if environ is None else environ).get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def read_bool(name: str, default: bool = False, environ: Mapping[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get(name)
    if value is None:
        return default
    return parse_bool(name, value)


def read_float(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    value = read_str(name, environ)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number of seconds.") from None
    if number < 0:
        raise ConfigError(f"{name}={value!r} must not be negative.")
    return number


def read_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """A non-negative integer (a rank, a count), or ``default`` when unset."""
    value = read_str(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not an integer.") from None
    if number < 0:
        raise ConfigError(f"{name}={value!r} must not be negative.")
    return number
