"""Where to log: the precedence rules of ``tracking.init``, written once.

Connection (host, token): a client passed in > the in-cluster context > environment
variables > the CLI's config files. Entity (owner, project, run): explicit arguments >
a ``RunClient`` passed in > the scheduled in-cluster run > ``POLYAXON_PROJECT`` > the
cached ``.run``/``.project``. Every source that was looked at is recorded, so the error
for "nothing found" can list them and say what to set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import env
from .config import ClientConfig, read_cli_files, read_json
from .exceptions import ConfigError, NoContextError
from .names import normalize_uuid, split_project, validate_slug

if TYPE_CHECKING:
    from .client import PolyaxonClient
    from .run_client import RunClient

__all__ = ["Context", "InCluster", "connection_from_environment", "in_cluster", "resolve"]


@dataclass(frozen=True)
class InCluster:
    """The context Polyaxon scheduling gives a job: which run, and where its artifacts live."""

    owner: str
    project: str
    run_uuid: str
    context_root: Path

    @property
    def artifacts_path(self) -> Path:
        return self.context_root / "artifacts" / self.run_uuid


@dataclass(frozen=True, kw_only=True)
class Context:
    """Everything a run needs to start, and where each piece came from."""

    config: ClientConfig | None
    owner: str
    project: str
    run_uuid: str | None
    is_managed: bool = False
    is_offline: bool = False
    cluster: InCluster | None = None
    client: PolyaxonClient | None = None
    sources: Mapping[str, str] = field(default_factory=dict)


def in_cluster(environ: Mapping[str, str] | None = None) -> InCluster | None:
    """The scheduled run when running as a Polyaxon-managed job, else None."""
    instance = env.read_str(env.RUN_INSTANCE, environ)
    managed = env.read_bool(env.IS_MANAGED, False, environ) or env.read_bool(env.K8S_IN_CLUSTER, False, environ)
    if instance is None or not managed:
        return None
    parts = instance.split(".")
    if len(parts) != 4 or parts[2] != "runs":
        raise ConfigError(f"{env.RUN_INSTANCE}={instance!r} should look like 'owner.project.runs.<uuid>'.")
    root = Path(env.read_str(env.CONTEXT_ROOT, environ) or "/plx-context")
    return InCluster(
        owner=validate_slug(parts[0], "owner"),
        project=validate_slug(parts[1], "project"),
        run_uuid=normalize_uuid(parts[3]),
        context_root=root,
    )


def _env_layer(environ: Mapping[str, str] | None) -> dict[str, str]:
    names = (
        env.HOST,
        env.AUTH_TOKEN,
        env.AUTHENTICATION_TYPE,
        env.API_VERSION,
        env.VERIFY_SSL,
        env.SSL_CA_CERT,
        env.CERT_FILE,
        env.KEY_FILE,
        env.TIMEOUT,
        env.K8S_NAMESPACE,
    )
    return {name: value for name in names if (value := env.read_str(name, environ)) is not None}


def _cluster_auth_layer(cluster: InCluster | None) -> Mapping[str, Any]:
    """The scoped token Polyaxon mounts for a scheduled job (``<context>/.configs/.auth``)."""
    if cluster is None:
        return {}
    return read_json(cluster.context_root / ".configs" / ".auth")


def connection_from_environment(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> ClientConfig:
    """The connection the environment describes (files < env < in-cluster), for ``PolyaxonClient()``."""
    files = read_cli_files(environ, cwd)
    cluster = in_cluster(environ)
    return ClientConfig.from_sources(files.client, files.auth, _env_layer(environ), _cluster_auth_layer(cluster))


def resolve(
    *,
    owner: str | None = None,
    project: str | None = None,
    run_uuid: str | None = None,
    client: PolyaxonClient | RunClient | None = None,
    is_new: bool | None = None,
    is_offline: bool | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Context:
    """Apply the precedence rules; raise :class:`NoContextError` listing what was checked."""
    from .client import PolyaxonClient
    from .run_client import RunClient

    sources: dict[str, str] = {}
    offline = env.read_bool(env.IS_OFFLINE, False, environ) if is_offline is None else bool(is_offline)
    files = read_cli_files(environ, cwd)
    cluster = in_cluster(environ)

    # Connection.
    http: PolyaxonClient | None = None
    entity_from_client: tuple[str | None, str | None, str | None] = (None, None, None)
    if isinstance(client, RunClient):
        http = client.client
        entity_from_client = (client.owner, client.project, client.run_uuid)
    elif isinstance(client, PolyaxonClient):
        http = client
    elif client is not None:
        raise ConfigError(f"client must be a PolyaxonClient or RunClient, got {type(client).__name__}.")
    if http is not None:
        config: ClientConfig | None = http.config
        sources["host"] = "client argument"
    else:
        env_layer = _env_layer(environ)
        config = ClientConfig.from_sources(files.client, files.auth, env_layer, _cluster_auth_layer(cluster))
        if env.HOST in env_layer:
            sources["host"] = f"environment ({env.HOST})"
        elif files.client.get(env.HOST):
            sources["host"] = f"CLI config ({files.checked[0]})"
        if config.host is None:
            config = None

    # Entity.
    arg_owner = validate_slug(owner, "owner") if owner is not None else None
    arg_owner, arg_project = split_project(project, arg_owner) if project is not None else (arg_owner, None)
    arg_uuid = normalize_uuid(run_uuid) if run_uuid is not None else None
    client_owner, client_project, client_uuid = entity_from_client

    resolved_owner: str | None = None
    resolved_project: str | None = None
    resolved_uuid: str | None = None
    managed = False

    if arg_project is not None:
        resolved_project, sources["project"] = arg_project, "argument"
        resolved_owner = arg_owner
    elif client_project is not None:
        resolved_owner, resolved_project, sources["project"] = client_owner, client_project, "client argument"
    elif cluster is not None:
        resolved_owner, resolved_project, sources["project"] = cluster.owner, cluster.project, "in-cluster"
    elif (env_project := env.read_str(env.PROJECT, environ)) is not None:
        resolved_owner, resolved_project = split_project(env_project, arg_owner)
        sources["project"] = f"environment ({env.PROJECT})"
    elif files.run.get("project"):
        resolved_owner, resolved_project = files.run.get("owner"), str(files.run["project"])
        sources["project"] = "cached .run"
    elif files.project.get("name"):
        resolved_owner, resolved_project = files.project.get("owner"), str(files.project["name"])
        sources["project"] = "cached .project"

    if arg_owner is not None:
        resolved_owner = arg_owner
    if resolved_owner is None:
        if cluster is not None:
            resolved_owner, sources["owner"] = cluster.owner, "in-cluster"
        elif files.organization:
            resolved_owner, sources["owner"] = files.organization, "CLI config (.user organization)"
        elif files.project.get("owner") and files.project.get("name") == resolved_project:
            resolved_owner, sources["owner"] = str(files.project["owner"]), "cached .project"
        else:
            resolved_owner, sources["owner"] = "default", "default"

    # Which run: explicit > client > scheduled > POLYAXON_RUN_UUID > cached (same project only), unless is_new.
    same = (resolved_owner, resolved_project)
    if arg_uuid is not None:
        resolved_uuid, sources["run"] = arg_uuid, "argument"
    elif is_new:
        sources["run"] = "new (is_new=True)"
    elif client_uuid is not None:
        resolved_uuid, sources["run"] = normalize_uuid(client_uuid), "client argument"
    elif cluster is not None and (cluster.owner, cluster.project) == same:
        resolved_uuid, sources["run"], managed = cluster.run_uuid, "in-cluster", True
    elif (env_uuid := env.read_str(env.RUN_UUID, environ)) is not None:
        resolved_uuid, sources["run"] = normalize_uuid(env_uuid), f"environment ({env.RUN_UUID})"
    elif files.run.get("uuid") and (files.run.get("owner"), files.run.get("project")) == same:
        resolved_uuid, sources["run"] = normalize_uuid(files.run["uuid"]), "cached .run"
    else:
        sources["run"] = "new"

    if resolved_project is None:
        raise NoContextError(_no_context_message("project", files.checked))
    validate_slug(resolved_owner, "owner")
    validate_slug(resolved_project, "project")
    if config is None and not offline:
        raise NoContextError(_no_context_message("server", files.checked))
    return Context(
        config=config,
        owner=resolved_owner,
        project=resolved_project,
        run_uuid=resolved_uuid,
        is_managed=managed,
        is_offline=offline,
        cluster=cluster if managed else None,
        client=http,
        sources=sources,
    )


def _no_context_message(missing: str, checked: tuple[Path, ...]) -> str:
    files = ", ".join(str(p) for p in checked) or f"none ({env.NO_CONFIG} is set)"
    first = (
        "Please provide a valid project, or make sure this operation is managed by Polyaxon: found no project."
        if missing == "project"  # the official client's words, which users search for
        else f"Found no Polyaxon {missing} to log to (the project is known)."
    )
    return (
        f"{first}\n"
        "Checked, in order:\n"
        "  1. arguments: client=, project=/owner=, run_uuid=\n"
        f"  2. in-cluster context: {env.RUN_INSTANCE} with {env.IS_MANAGED}=true\n"
        f"  3. environment: {env.HOST}, {env.AUTH_TOKEN}, {env.PROJECT}\n"
        f"  4. Polyaxon CLI files: {files}\n"
        "Fix: pass project='owner/name' (or set POLYAXON_PROJECT) and set POLYAXON_HOST "
        "(plus POLYAXON_AUTH_TOKEN on EE/Cloud), or log in with the Polyaxon CLI; "
        "to log without a server, pass is_offline=True (or set POLYAXON_IS_OFFLINE=true) and push later "
        "with `polyaxon-integrations sync`."
    )
