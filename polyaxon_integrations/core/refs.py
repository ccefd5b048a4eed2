"""The official tracking calls that are not events: lineage references, meta, progress, readme, statuses, versions.

Mixed into :class:`~polyaxon_integrations.core.run.Run`. As everywhere in a run, the
caller's thread only validates and records: hashing, files and lineage are written by
the writer thread, and the mirror sends them (``promote_to_*_version`` are the
exception: they answer with the server's version, so they ask it).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .events import InvalidValueError
from .exceptions import ApiError, ConfigError, PolyaxonError
from .guard import warn_once
from .lineage import file_hash
from .names import slugify

if TYPE_CHECKING:
    from .client import PolyaxonClient
    from .context import Context
    from .folder import RunFolder
    from .recorder import Recorder
    from .state import RunState

__all__ = ["ARTIFACT_KINDS", "RefsMixin", "hash_value"]

#: The artifact kinds the server knows (``V1ArtifactKind``); a lineage entry of another kind is refused.
ARTIFACT_KINDS = frozenset(
    """model audio video histogram image tensor dataframe chart csv tsv psv ssv metric env html text file dir
    dockerfile docker_image data coderef table tensorboard curve confusion analysis iteration markdown system
    artifact span""".split()
)


def hash_value(content: Any) -> str:
    """A short hash of ``str(content)`` (12 hex characters, like every hash in lineage)."""
    return hashlib.sha256(str(content).encode("utf-8", "replace")).hexdigest()[:12]


def dir_hash(path: Path) -> str:
    """A short hash of every file under ``path`` (names and bytes), in a stable order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:12]


def kind_value(kind: Any) -> str:
    value = kind.value if isinstance(kind, Enum) else kind
    if not isinstance(value, str) or value not in ARTIFACT_KINDS:
        raise InvalidValueError(f"Unknown artifact kind {kind!r}: use one of {sorted(ARTIFACT_KINDS)}.")
    return value


def _base_name(path: str) -> str:
    base = os.path.basename(os.path.normpath(path))
    return base.split(".", 1)[0] if not base.startswith(".") else base


class RefsMixin:
    """Lineage references (``log_*_ref``), ``log_meta``, ``log_progress``, ``set_readme``, final statuses, versions."""

    if TYPE_CHECKING:
        _recorder: Recorder
        _state: RunState
        context: Context
        folder: RunFolder

        @property
        def _http(self) -> PolyaxonClient: ...
        @property
        def run_uuid(self) -> str: ...
        @property
        def owner(self) -> str: ...
        @property
        def project(self) -> str: ...
        @property
        def is_offline(self) -> bool: ...
        def _check_open(self) -> None: ...
        def _persist(self) -> bool: ...
        def _mirror_mark(self, **changes: Iterable[str]) -> None: ...
        def get_outputs_path(self) -> str: ...
        def end(self, status: str = "succeeded", message: str | None = None, timeout: float | None = None) -> bool: ...

    # --- meta, progress, readme -----------------------------------------------------------

    def log_meta(self, reset: bool = False, async_req: bool = True, **meta: Any) -> None:
        """Merge ``meta`` into the run's ``meta_info`` (``reset=True`` replaces what this process set)."""
        self._check_open()
        clean = {slugify(k) or k: v for k, v in meta.items()}  # the official client's key names
        with self._state.lock:
            if reset:
                self._state.meta_info.clear()
            changed = reset or any(self._state.meta_info.get(k, object()) != v for k, v in clean.items())
            self._state.meta_info.update(clean)
        if changed:
            self._recorder.writer.put(("call", self._persist))  # run.plx.json written beside training
            self._mirror_mark(fields=["meta_info"])

    def log_progress(self, value: float) -> None:
        """The run's progress, a number in [0, 1], shown by the UI as a bar."""
        if type(value) is bool or not isinstance(value, int | float):
            raise TypeError(f"log_progress takes a number in [0, 1], got {type(value).__name__}: {value!r}.")
        if not 0 <= value <= 1:
            raise ValueError(f"log_progress takes a number in [0, 1], got {value!r}.")
        if self._state.meta_info.get("progress") == value:
            return
        self.log_meta(progress=value)

    def set_readme(self, readme: str, async_req: bool = True) -> None:
        """The run's readme (markdown), shown on its overview page."""
        self._check_open()
        with self._state.lock:
            if self._state.readme == readme:
                return
            self._state.readme = str(readme)
        self._recorder.writer.put(("call", self._persist))
        self._mirror_mark(fields=["readme"])

    # --- statuses -----------------------------------------------------------------------

    def log_succeeded(self, reason: str | None = None, message: str | None = "Operation has succeeded") -> None:
        """End the run ``succeeded`` (a no-op once it has ended)."""
        self.end("succeeded", message=message)

    def log_failed(self, reason: str | None = None, message: str | None = None) -> None:
        self.end("failed", message=message or reason)

    def log_stopped(self, reason: str | None = None, message: str | None = "Operation is stopped") -> None:
        self.end("stopped", message=message)

    # --- lineage references ---------------------------------------------------------------

    def _lineage(self, entries: list[dict[str, Any]]) -> None:
        """On the writer thread, in order with the events: into lineages.plx.json, then to the server."""
        recorder = self._recorder
        recorder.lineage.add(*entries)
        if recorder.mirror is not None:
            recorder.mirror.add_lineage(entries)

    def _ref_path(self, path: str | os.PathLike[str], rel_path: str | None) -> str:
        """Run-relative for files inside the run folder (they mean something once pushed), else absolute."""
        if rel_path:
            return rel_path
        absolute = Path(path).absolute()
        try:
            return absolute.relative_to(self.folder.path.absolute()).as_posix()
        except ValueError:
            return str(absolute)

    def _ref(
        self,
        kind: str,
        name: str,
        path: str | os.PathLike[str] | None,
        *,
        hash: str | None = None,
        content: Any = None,
        summary: Mapping[str, Any] | None = None,
        is_input: bool = False,
        rel_path: str | None = None,
        skip_hash: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self._check_open()
        if not isinstance(name, str) or not name:
            raise InvalidValueError(f"A {kind} reference needs a name, got {name!r}.")
        info: dict[str, Any] = {**(summary or {}), **(extra or {})}
        entry: dict[str, Any] = {"name": name, "kind": kind, "summary": info, "is_input": bool(is_input)}
        source = Path(path) if path is not None else None
        if source is not None:
            entry["path"] = self._ref_path(source, rel_path)
            info["path"] = entry["path"]
        if hash is not None:
            info["hash"] = hash
        elif content is not None:
            info["hash"] = hash_value(content)

        def record() -> None:
            if source is not None and "hash" not in info and not skip_hash and kind != "tensorboard":
                if source.is_dir():
                    info["hash"] = dir_hash(source)
                elif source.is_file():
                    info["hash"] = file_hash(source)
            self._lineage([entry])

        self._recorder.writer.put(("call", record))

    def log_artifact_ref(
        self,
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
        """Record ``path`` (a file or folder anywhere) in the run's lineage as ``kind``, without copying it."""
        self._ref(
            kind_value(kind),
            name or _base_name(path),
            path,
            hash=hash,
            content=content,
            summary=summary,
            is_input=is_input,
            rel_path=rel_path,
            skip_hash=skip_hash_calculation,
        )

    def log_model_ref(
        self,
        path: str,
        name: str | None = None,
        framework: str | None = None,
        summary: dict[str, Any] | None = None,
        is_input: bool = False,
        rel_path: str | None = None,
        skip_hash_calculation: bool = False,
    ) -> None:
        self._ref(
            "model",
            name or _base_name(path),
            path,
            summary=summary,
            is_input=is_input,
            rel_path=rel_path,
            skip_hash=skip_hash_calculation,
            extra={"framework": framework} if framework else None,
        )
        if not self._state.meta_info.get("has_model"):
            self.log_meta(has_model=True)

    def log_file_ref(
        self,
        path: str,
        name: str | None = None,
        hash: str | None = None,
        content: Any = None,
        summary: dict[str, Any] | None = None,
        is_input: bool = False,
        rel_path: str | None = None,
        skip_hash_calculation: bool = False,
    ) -> None:
        self._ref(
            "file",
            name or _base_name(path),
            path,
            hash=hash,
            content=content,
            summary=summary,
            is_input=is_input,
            rel_path=rel_path,
            skip_hash=skip_hash_calculation,
        )

    def log_dir_ref(
        self,
        path: str,
        name: str | None = None,
        hash: str | None = None,
        summary: dict[str, Any] | None = None,
        is_input: bool = False,
        rel_path: str | None = None,
        skip_hash_calculation: bool = False,
    ) -> None:
        self._ref(
            "dir",
            name or os.path.basename(os.path.normpath(path)),
            path,
            hash=hash,
            summary=summary,
            is_input=is_input,
            rel_path=rel_path,
            skip_hash=skip_hash_calculation,
        )

    def log_data_ref(
        self,
        name: str,
        hash: str | None = None,
        path: str | None = None,
        content: Any = None,
        summary: dict[str, Any] | None = None,
        is_input: bool = True,
        skip_hash_calculation: bool = False,
    ) -> None:
        """A data set the run read (an input by default): by ``path``, or by a hash of ``content``."""
        self._ref(
            "data",
            name,
            path,
            hash=hash,
            content=content,
            summary=summary,
            is_input=is_input,
            skip_hash=skip_hash_calculation,
        )

    def log_code_ref(self, code_ref: dict[str, Any] | None = None, is_input: bool = True) -> None:
        """The git commit the run ran (``{commit, branch, url}``; read from the working directory when not given)."""
        self._check_open()
        if code_ref is not None:
            commit = code_ref.get("commit")
            if not isinstance(commit, str) or not commit:
                raise InvalidValueError(f"A code reference needs a 'commit', got {code_ref!r}.")
            entry = {"name": commit, "kind": "coderef", "summary": dict(code_ref), "is_input": bool(is_input)}
            self._recorder.writer.put(("call", lambda: self._lineage([entry])))
            return
        from .provenance import record_code_ref

        recorder = self._recorder
        cwd = os.getcwd()
        recorder.writer.put(("call", lambda: record_code_ref(recorder, cwd)))

    def log_env(self, rel_path: str | None = None, content: dict[str, Any] | None = None) -> None:
        """Write ``outputs/env.json`` (Python, platform, packages; or ``content``) and its ``env`` lineage entry."""
        self._check_open()
        from .provenance import env_info

        filename = rel_path or "env.json"
        if filename.startswith(("/", ".")) or ".." in filename.split("/"):
            raise ConfigError(f"Invalid env file name {filename!r}: use a relative name such as 'env.json'.")
        recorder = self._recorder

        def write() -> None:
            data = json.dumps(content if content is not None else env_info(), indent=1, default=str).encode()
            recorder._write_file(data, f"outputs/{filename}", "env", "env")

        recorder.writer.put(("call", write))

    def log_tensorboard_ref(
        self, path: str, name: str = "tensorboard", is_input: bool = False, rel_path: str | None = None
    ) -> None:
        """Record a TensorBoard log folder in lineage (once per run, as the official client does)."""
        if self._state.meta_info.get("has_tensorboard"):
            return
        self._ref("tensorboard", name, path, is_input=is_input, rel_path=rel_path, skip_hash=True)
        self.log_meta(has_tensorboard=True)

    def get_tensorboard_path(self, rel_path: str = "tensorboard", use_store_path: bool = False) -> str:
        """``outputs/<rel_path>`` of the run (created), recorded as its TensorBoard folder."""
        path = Path(self.get_outputs_path()) / rel_path
        path.mkdir(parents=True, exist_ok=True)
        self.log_tensorboard_ref(str(path))
        return str(path)

    def log_artifact_lineage(self, body: Any, async_req: bool = True) -> None:
        """Add lineage entries as given: a dict (``name``, ``kind``, ``path``, ``summary``, ``is_input``) or a list."""
        self._check_open()
        items = body if isinstance(body, list | tuple) else [body]
        entries = []
        for item in items:
            data = item.to_dict() if hasattr(item, "to_dict") else dict(item)
            if not isinstance(data.get("name"), str) or not data["name"]:
                raise InvalidValueError(f"A lineage entry needs a name, got {data!r}.")
            data["kind"] = kind_value(data.get("kind"))
            data.setdefault("summary", {})
            data.setdefault("is_input", False)
            entries.append(data)
        if entries:
            self._recorder.writer.put(("call", lambda: self._lineage(entries)))

    def set_artifacts_path(self, artifacts_path: str | None = None, is_related: bool = False) -> None:
        """The run's folder is chosen at ``init`` (``POLYAXON_OFFLINE_ROOT``, the in-cluster context): a no-op
        for that folder; another path is refused with a warning, and logging goes on where it was."""
        if artifacts_path is None or Path(artifacts_path).resolve() == self.folder.path.resolve():
            return
        warn_once(
            "set-artifacts-path",
            f"polyaxon-integrations: set_artifacts_path({artifacts_path!r}) is ignored; run {self.run_uuid} keeps "
            f"logging to {self.folder.path} (choose the root with POLYAXON_OFFLINE_ROOT before init).",
        )

    # --- versions (the server's answer is the result, so these ask it) -----------------------

    def promote_to_model_version(
        self,
        version: str,
        description: str | None = None,
        tags: str | list[str] | None = None,
        content: str | dict[str, Any] | None = None,
        connection: str | None = None,
        artifacts: list[str] | None = None,
        force: bool = False,
    ) -> dict[str, Any] | None:
        """Make this run a version of the project's model registry (online runs; None offline)."""
        return self._promote("model", version, description, tags, content, connection, artifacts, force)

    def promote_to_artifact_version(
        self,
        version: str,
        description: str | None = None,
        tags: str | list[str] | None = None,
        content: str | dict[str, Any] | None = None,
        connection: str | None = None,
        artifacts: list[str] | None = None,
        force: bool = False,
    ) -> dict[str, Any] | None:
        return self._promote("artifact", version, description, tags, content, connection, artifacts, force)

    def _promote(
        self,
        kind: str,
        version: str,
        description: str | None,
        tags: str | list[str] | None,
        content: str | dict[str, Any] | None,
        connection: str | None,
        artifacts: list[str] | None,
        force: bool,
    ) -> dict[str, Any] | None:
        if self.is_offline or self.context.config is None:
            warn_once(
                f"promote-offline-{kind}",
                f"polyaxon-integrations: promote_to_{kind}_version needs the server; offline runs are skipped.",
            )
            return None
        if not isinstance(version, str) or not version:
            raise InvalidValueError(f"A version needs a name, got {version!r}.")
        body: dict[str, Any] = {"name": version, "run": self.run_uuid, "kind": kind}
        if description is not None:
            body["description"] = description
        if tags is not None:
            body["tags"] = [tags] if isinstance(tags, str) else list(tags)
        if content is not None:
            body["content"] = content if isinstance(content, str) else json.dumps(content)
        if connection is not None:
            body["connection"] = connection
        if artifacts is not None:
            body["artifacts"] = list(artifacts)
        http = self._http
        base = http.api(f"{self.owner}/{self.project}/versions/{kind}")
        try:
            http.request("GET", f"{base}/{version}")
        except ApiError as exc:
            if exc.status_code != 404:
                raise
            return http.request("POST", base, json_body=body)  # type: ignore[no-any-return]
        if not force:
            raise PolyaxonError(
                f"The {kind} version {version!r} already exists in {self.owner}/{self.project}; pass force=True."
            )
        patch = {k: v for k, v in body.items() if k not in ("kind",)}
        return http.request("PATCH", f"{base}/{version}", json_body=patch)  # type: ignore[no-any-return]
