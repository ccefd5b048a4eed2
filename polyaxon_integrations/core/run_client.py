"""``RunClient``: synchronous REST operations on one run, named like the official client's.

The tracking ``Run`` uses it from its background worker; users can use it directly to
read a run back or change it after the fact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .client import PolyaxonClient
from .config import default_owner
from .exceptions import ApiError, ConfigError
from .names import normalize_uuid, slugify, split_project, validate_slug
from .state import DONE_STATUSES, status_condition
from .values import storable_dict

__all__ = ["DONE_STATUSES", "RunClient", "status_condition"]


class RunClient:
    """REST operations on one run.

    >>> run = RunClient(project="acme/demo", client=PolyaxonClient())  # doctest: +SKIP
    >>> run.create(name="baseline", tags=["v1"])["uuid"]  # doctest: +SKIP
    """

    def __init__(
        self,
        owner: str | None = None,
        project: str | None = None,
        run_uuid: str | None = None,
        client: PolyaxonClient | None = None,
    ) -> None:
        if project is not None:
            owner, project = split_project(project, validate_slug(owner, "owner") if owner else None)
        elif owner is not None:
            validate_slug(owner, "owner")
        if project is not None and owner is None:
            owner = default_owner()
        self.owner = owner
        self.project = project
        self.run_uuid = normalize_uuid(run_uuid) if run_uuid is not None else None
        self._client = client
        self._run_data: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"RunClient(owner={self.owner!r}, project={self.project!r}, run_uuid={self.run_uuid!r})"

    @property
    def client(self) -> PolyaxonClient:
        """The HTTP client; built from the environment and CLI files on first use if none was given."""
        if self._client is None:
            self._client = PolyaxonClient()
        return self._client

    @property
    def run_data(self) -> dict[str, Any]:
        """The run as last read from or written to the server."""
        return self._run_data

    def _ids(self) -> tuple[str, str, str]:
        if not (self.owner and self.project and self.run_uuid):
            raise ConfigError(
                f"{self!r} does not point at a run: pass owner, project and run_uuid, or call create() first."
            )
        return self.owner, self.project, self.run_uuid

    def create(
        self,
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        create_project: bool = True,
    ) -> dict[str, Any]:
        """Create a run (not managed by the platform); create the project first if it is missing."""
        if not (self.owner and self.project):
            raise ConfigError("RunClient.create needs owner and project.")
        body: dict[str, Any] = {"is_managed": False, "managed_by": "user"}
        if name:
            body["name"] = slugify(name)
        if description:
            body["description"] = description
        if tags:
            body["tags"] = list(tags)
        if inputs:
            body["inputs"] = storable_dict(inputs, "inputs")
        try:
            data = self.client.create_run(self.owner, self.project, body)
        except ApiError as exc:
            if not (create_project and exc.status_code == 404):
                raise
            self._create_project()
            data = self.client.create_run(self.owner, self.project, body)
        self.run_uuid = normalize_uuid(data["uuid"])
        self._run_data = data
        return data

    def create_as(self, run: Mapping[str, Any]) -> bool:
        """Create ``run`` (a whole ``run.plx.json``) under its own uuid; False if the server has it already."""
        if not (self.owner and self.project):
            raise ConfigError("RunClient.create_as needs owner and project.")
        made = self.client.create_run_as(self.owner, self.project, run)
        self.run_uuid = normalize_uuid(str(run["uuid"]))
        self._run_data = dict(run)
        return made

    def _create_project(self) -> None:
        assert self.owner and self.project
        try:
            self.client.ensure_project(self.owner, self.project)
        except ApiError as exc:
            raise ApiError(
                f"Project {self.owner}/{self.project} does not exist and could not be created: {exc}. "
                "Create it in the UI or with `polyaxon project create`, or pass an existing project.",
                status_code=exc.status_code,
                method=exc.method,
                url=exc.url,
            ) from None

    def refresh_data(self) -> dict[str, Any]:
        self._run_data = self.client.get_run(*self._ids())
        return self._run_data

    def update(self, data: Mapping[str, Any]) -> dict[str, Any]:
        self._run_data = self.client.patch_run(*self._ids(), data)
        return self._run_data

    def log_inputs(self, reset: bool = False, **inputs: Any) -> dict[str, Any]:
        """Merge ``inputs`` (converted as ``Run.log_inputs`` converts them: see ``core/values.py``)."""
        return self.update({"inputs": storable_dict(inputs, "inputs"), "merge": not reset})

    def log_outputs(self, reset: bool = False, **outputs: Any) -> dict[str, Any]:
        return self.update({"outputs": storable_dict(outputs, "outputs"), "merge": not reset})

    def log_tags(self, tags: str | Iterable[str], reset: bool = False) -> dict[str, Any]:
        return self.update({"tags": [tags] if isinstance(tags, str) else list(tags), "merge": not reset})

    def get_inputs(self) -> dict[str, Any]:
        return dict(self.refresh_data().get("inputs") or {})

    def get_outputs(self) -> dict[str, Any]:
        return dict(self.refresh_data().get("outputs") or {})

    def log_status(self, status: str, reason: str | None = None, message: str | None = None) -> None:
        self.client.create_status(*self._ids(), status_condition(status, reason, message))

    def log_succeeded(self, message: str | None = None) -> None:
        self.log_status("succeeded", message=message)

    def log_failed(self, reason: str | None = None, message: str | None = None) -> None:
        self.log_status("failed", reason=reason, message=message)

    def log_stopped(self, message: str | None = None) -> None:
        self.log_status("stopped", message=message)

    def get_statuses(self) -> tuple[str | None, list[dict[str, Any]]]:
        """``(current status, conditions)`` as the server has them."""
        body = self.client.get_statuses(*self._ids())
        return body.get("status"), list(body.get("status_conditions") or [])
