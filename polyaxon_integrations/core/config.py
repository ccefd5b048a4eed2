"""Connection settings and the config files an authenticated Polyaxon CLI leaves behind.

The files are JSON whose keys are the environment variable names (the official CLI's
format). We only read the global ones here; ``.project``/``.run`` caches are looked up in
``./.polyaxon`` first, then in the global folder, like the official CLI does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import env
from .exceptions import ConfigError
from .guard import PolyaxonWarning
from .ui import mask_credentials

__all__ = [
    "CliFiles",
    "ClientConfig",
    "default_owner",
    "global_config_dir",
    "read_cli_files",
    "read_json",
    "write_json_private",
]

_DEFAULT_TIMEOUT = 20.0


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """Where and how to reach the server. Immutable; the token never shows in ``repr``.

    >>> ClientConfig(host="http://127.0.0.1:31833", token="secret")
    ClientConfig(host='http://127.0.0.1:31833', token='***', verify_ssl=True, timeout=20.0)
    """

    host: str | None = None
    token: str | None = field(default=None, repr=False)
    use_https: bool | None = None
    verify_ssl: bool | None = None
    authentication_type: str = "Token"
    api_version: str = "v1"
    ssl_ca_cert: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    timeout: float = _DEFAULT_TIMEOUT
    namespace: str = "polyaxon"
    headers: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.host is not None:
            object.__setattr__(self, "host", _normalize_host(self.host, self.use_https))
        if self.verify_ssl is None:
            object.__setattr__(self, "verify_ssl", True)
        if self.timeout <= 0:
            raise ConfigError(f"timeout must be positive, got {self.timeout!r}.")

    def __repr__(self) -> str:
        token = "***" if self.token else None
        return (
            f"ClientConfig(host={mask_credentials(self.host) if self.host else None!r}, token={token!r}, "
            f"verify_ssl={self.verify_ssl!r}, "
            f"timeout={self.timeout!r})"
        )

    @property
    def base_url(self) -> str:
        return f"{self.host}/api/{self.api_version}"

    @property
    def streams_url(self) -> str:
        return f"{self.host}/streams/{self.api_version}/{self.namespace}"

    def replace(self, **changes: Any) -> ClientConfig:
        """A copy with ``changes`` applied; ``None`` values leave a field as it is."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_sources(cls, *layers: Mapping[str, Any]) -> ClientConfig:
        """Merge layers keyed by variable name, later layers winning (files < env < in-cluster)."""
        merged: dict[str, Any] = {}
        for layer in layers:
            merged.update({k: v for k, v in layer.items() if v is not None and v != ""})
        kwargs: dict[str, Any] = {
            "host": merged.get(env.HOST),
            "token": merged.get(env.AUTH_TOKEN),
            "ssl_ca_cert": merged.get(env.SSL_CA_CERT),
            "cert_file": merged.get(env.CERT_FILE),
            "key_file": merged.get(env.KEY_FILE),
            "headers": dict(merged.get("client_header") or {}),
        }
        if env.AUTHENTICATION_TYPE in merged:
            kwargs["authentication_type"] = str(merged[env.AUTHENTICATION_TYPE])
        if env.API_VERSION in merged:
            kwargs["api_version"] = str(merged[env.API_VERSION])
        if env.K8S_NAMESPACE in merged:
            kwargs["namespace"] = str(merged[env.K8S_NAMESPACE])
        if env.VERIFY_SSL in merged:
            value = merged[env.VERIFY_SSL]
            kwargs["verify_ssl"] = value if isinstance(value, bool) else env.parse_bool(env.VERIFY_SSL, str(value))
        if env.TIMEOUT in merged:
            kwargs["timeout"] = env.read_float(env.TIMEOUT, _DEFAULT_TIMEOUT, {env.TIMEOUT: str(merged[env.TIMEOUT])})
        return cls(**kwargs)


def _normalize_host(host: str, use_https: bool | None) -> str:
    host = host.strip().rstrip("/")
    if not host:
        raise ConfigError("host is empty: set POLYAXON_HOST, e.g. http://127.0.0.1:31833.")
    if "://" not in host:
        host = f"{'https' if use_https else 'http'}://{host}"
    elif use_https and host.startswith("http://"):
        host = "https://" + host[len("http://") :]
    if not host.startswith(("http://", "https://")):
        raise ConfigError(f"host {host!r} must start with http:// or https://.")
    return host


# --- the CLI's config files -------------------------------------------------------------


def global_config_dir(environ: Mapping[str, str] | None = None, *, connection: bool = False) -> Path:
    """The CLI's global folder: ``~/.polyaxon`` (``/tmp/.polyaxon`` when home is not writable).

    ``POLYAXON_HOME`` (or ``polyaxon config set --home``, kept in ``~/.polyaxon/.home``) moves
    only the connection files (``.client``, ``.auth``), as in the official CLI.
    """
    home = (os.environ if environ is None else environ).get("HOME") or str(Path.home())
    if not os.access(home, os.W_OK):
        home = "/tmp"
    default = Path(home).expanduser() / ".polyaxon"
    if not connection:
        return default
    base = env.read_str(env.HOME, environ) or _home_file_path(default / ".home")
    return Path(base).expanduser() / ".polyaxon" if base else default


def _home_file_path(path: Path) -> str | None:
    """The folder set by `polyaxon config set --home`: ``~/.polyaxon/.home``, one-line YAML."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.strip() in (env.HOME, "path") and value.strip():
            return value.strip().strip("'\"")
    return None


@dataclass(frozen=True)
class CliFiles:
    """What the CLI's files say; each field is None where the file is missing or silent."""

    client: Mapping[str, Any]
    auth: Mapping[str, Any]
    user: Mapping[str, Any]
    project: Mapping[str, Any]
    run: Mapping[str, Any]
    checked: tuple[Path, ...]

    @property
    def organization(self) -> str | None:
        org = self.user.get("organization")
        return org if isinstance(org, str) and org else None


def read_json(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc}.") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); fix or delete it.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} should hold a JSON object; fix or delete it.")
    return data


def _warn_if_world_readable(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.warn(
            f"{path} holds an API token and can be read by other users; run `chmod 600 {path}`.",
            PolyaxonWarning,
            stacklevel=4,
        )


def read_cli_files(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> CliFiles:
    """Read the CLI's files; ``POLYAXON_NO_CONFIG`` skips them all."""
    if env.read_bool(env.NO_CONFIG, False, environ):
        return CliFiles({}, {}, {}, {}, {}, ())
    cdir = global_config_dir(environ, connection=True)
    gdir = global_config_dir(environ)
    ldir = (cwd or Path.cwd()) / ".polyaxon"
    auth_path = cdir / ".auth"
    auth = read_json(auth_path)
    if auth.get(env.AUTH_TOKEN):
        _warn_if_world_readable(auth_path)

    def cached(name: str) -> Mapping[str, Any]:
        local = read_json(ldir / name)
        return local or read_json(gdir / name)

    checked = (
        cdir / ".client",
        auth_path,
        gdir / ".user",
        ldir / ".project",
        gdir / ".project",
        ldir / ".run",
        gdir / ".run",
    )
    return CliFiles(
        client=read_json(cdir / ".client"),
        auth=auth,
        user=read_json(gdir / ".user"),
        project=cached(".project"),
        run=cached(".run"),
        checked=checked,
    )


def default_owner(environ: Mapping[str, str] | None = None) -> str:
    """The owner used when only a project name is given: the CLI user's organization, else ``default``."""
    return read_cli_files(environ).organization or "default"


def write_json_private(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON atomically with mode 0600 (files that may hold a token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)
