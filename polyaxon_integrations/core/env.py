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
    "read_bool",
    "read_float",
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
RERAISE = "POLYAXON_INTEGRATIONS_RERAISE"
LOG_MODEL = "POLYAXON_LOG_MODEL"
AUTOLOAD = "POLYAXON_INTEGRATIONS_AUTOLOAD"

# What is recorded beside the metrics (``init`` arguments of the same names win over these).
COLLECT_RESOURCES = "POLYAXON_COLLECT_RESOURCES"  # official: Polyaxon sets it in-cluster (plugins)
TRACK_CODE = "POLYAXON_INTEGRATIONS_TRACK_CODE"
TRACK_ENV = "POLYAXON_INTEGRATIONS_TRACK_ENV"
TRACK_LOGS = "POLYAXON_INTEGRATIONS_TRACK_LOGS"
RESOURCES_INTERVAL = "POLYAXON_INTEGRATIONS_RESOURCES_INTERVAL"

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
    RERAISE: ("false", "Re-raise errors that are normally turned into warnings (tests)."),
    COLLECT_RESOURCES: ("true", "Sample CPU, memory, disk, network, GPU (in-cluster: as Polyaxon sets it)."),
    TRACK_CODE: ("true", "Record the git commit, branch, remote and dirty flag (false in-cluster)."),
    TRACK_ENV: ("true", "Write `outputs/env.json`: Python, platform, packages (false in-cluster)."),
    TRACK_LOGS: ("true", "Copy stdout/stderr into the run's logs (false in-cluster)."),
    RESOURCES_INTERVAL: ("5", "Seconds between two resource samples."),
    LOG_MODEL: ("false", "transformers `report_to`: `false`, `end` (the final model) or `checkpoint` (every save)."),
    AUTOLOAD: ("true", 'Make `report_to="polyaxon"` known to transformers without importing our adapter.'),
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
