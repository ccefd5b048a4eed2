"""The REST client: one ``requests`` session, auth, retries, and the calls we make.

Retries are urllib3's ``Retry`` mounted on the session: connection failures are retried
for every method (nothing reached the server), server errors only for idempotent ones,
so a slow ``POST`` never creates a run twice. Errors become our exceptions with the
server's own message and never the token.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid as _uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .config import ClientConfig
from .exceptions import ApiError, AuthenticationError, ConfigError, ServerUnreachableError

if TYPE_CHECKING:
    import requests

__all__ = ["PolyaxonClient"]

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CONNECT_TIMEOUT = 5.0


def _user_agent() -> str:
    from .. import __version__

    return f"polyaxon-integrations/{__version__}"


class PolyaxonClient:
    """A connection to one Polyaxon server.

    >>> client = PolyaxonClient(config=ClientConfig(host="http://127.0.0.1:31833"))  # doctest: +SKIP
    >>> client.get_installation()["dist"]  # doctest: +SKIP
    'ce'
    """

    def __init__(
        self,
        config: ClientConfig | None = None,
        token: str | None = None,
        *,
        retries: int = 3,
    ) -> None:
        if config is None:
            from .context import connection_from_environment

            config = connection_from_environment()
        if token is not None:
            config = config.replace(token=token)
        if not config.host:
            raise ConfigError(
                "No Polyaxon host: pass ClientConfig(host=...), set POLYAXON_HOST, or log in with the Polyaxon CLI."
            )
        self.config = config
        self._retries = retries
        self._session: requests.Session | None = None

    def __repr__(self) -> str:
        from .ui import mask_credentials

        return f"PolyaxonClient(host={mask_credentials(self.config.host or '')!r})"

    # The session is built lazily so a client can be pickled (DDP spawn) and used after fork.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_session"] = None
        return state

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = self._make_session()
        return self._session

    def _make_session(self) -> requests.Session:
        # requests is imported here, not at module level: it is most of our import time.
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        config = self.config
        session = requests.Session()

        class _Retry(Retry):
            """Also retries 405 for every method: the CE sandbox now and then answers a valid request
            with 405 without acting on it, so sending it again cannot duplicate anything."""

            def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
                if status_code == 405 and self.total:
                    return True
                return bool(super().is_retry(method, status_code, has_retry_after))

        retry = _Retry(
            total=self._retries,
            connect=self._retries,
            read=self._retries,
            status=self._retries,
            backoff_factor=0.25,
            status_forcelist=(502, 503, 504),
            allowed_methods=_IDEMPOTENT,
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=4)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update(config.headers)
        session.headers["User-Agent"] = _user_agent()
        if config.token:
            session.headers["Authorization"] = f"{config.authentication_type} {config.token}"
        session.verify = config.ssl_ca_cert or bool(config.verify_ssl)
        if config.cert_file:
            session.cert = (config.cert_file, config.key_file) if config.key_file else config.cert_file
        session.trust_env = False  # never route loopback/cluster traffic through a proxy from the env
        return session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # --- plumbing ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        raw: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Send one request; return the decoded JSON body (or None; the bytes with ``raw``), raise ours on failure."""
        import requests

        read_timeout = timeout if timeout is not None else self.config.timeout
        try:
            response = self.session.request(
                method,
                url,
                json=json_body,
                params=params,
                timeout=(min(_CONNECT_TIMEOUT, read_timeout), read_timeout),
                **kwargs,
            )
        except requests.exceptions.SSLError as exc:
            raise ServerUnreachableError(
                f"TLS error talking to {self.config.host}: {exc.__class__.__name__}. Set POLYAXON_SSL_CA_CERT "
                "to the server's CA bundle (or, for a trusted test server only, POLYAXON_VERIFY_SSL=false).",
                method=method,
                url=url,
            ) from None
        except requests.exceptions.RequestException as exc:
            raise ServerUnreachableError(
                f"Polyaxon server {self.config.host} did not answer {method} {_path(url)}: {_reason(exc)}",
                method=method,
                url=url,
            ) from None
        if raw and response.status_code < 400:
            return response.content
        return self._decode(response, method, url)

    def _decode(self, response: requests.Response, method: str, url: str) -> Any:
        status = response.status_code
        body = _body(response)
        if status in (401, 403):
            raise AuthenticationError(
                f"Polyaxon server {self.config.host} rejected the credentials (HTTP {status}) for "
                f"{method} {_path(url)}. Set POLYAXON_AUTH_TOKEN to a valid token or log in with "
                "`polyaxon login`.",
                status_code=status,
                method=method,
                url=url,
            )
        if status >= 400:
            raise ApiError(
                f"Polyaxon server answered HTTP {status} to {method} {_path(url)}: {_detail(body)}",
                status_code=status,
                method=method,
                url=url,
            )
        return body

    def api(self, path: str) -> str:
        return f"{self.config.base_url}/{path.lstrip('/')}"

    # --- REST calls ----------------------------------------------------------------------

    def health(self, timeout: float = 5.0) -> bool:
        try:
            self.request("GET", f"{self.config.host}/healthz", timeout=timeout)
        except ApiError:
            return False
        return True

    def get_installation(self) -> dict[str, Any]:
        return self.request("GET", self.api("installation"))  # type: ignore[no-any-return]

    def get_project(self, owner: str, project: str) -> dict[str, Any]:
        return self.request("GET", self.api(f"{owner}/{project}"))  # type: ignore[no-any-return]

    def create_project(self, owner: str, project: str, description: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": project}
        if description:
            body["description"] = description
        return self.request("POST", self.api(f"{owner}/projects/create"), json_body=body)  # type: ignore[no-any-return]

    def ensure_project(self, owner: str, project: str) -> None:
        """Create the project unless it exists (the server answers 400 for an existing name)."""
        try:
            self.create_project(owner, project)
        except ApiError as exc:
            if exc.status_code != 400:
                raise

    def list_projects(self, owner: str) -> list[dict[str, Any]]:
        return list((self.request("GET", self.api(f"{owner}/projects/list")) or {}).get("results") or [])

    def create_run(self, owner: str, project: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("POST", self.api(f"{owner}/{project}/runs"), json_body=dict(body))  # type: ignore[no-any-return]

    def get_run(self, owner: str, project: str, uuid: str) -> dict[str, Any]:
        return self.request("GET", self.api(f"{owner}/{project}/runs/{uuid}"))  # type: ignore[no-any-return]

    def list_runs(self, owner: str, project: str, query: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if query:
            params["query"] = query
        return list(
            (self.request("GET", self.api(f"{owner}/{project}/runs"), params=params) or {}).get("results") or []
        )

    def patch_run(self, owner: str, project: str, uuid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", self.api(f"{owner}/{project}/runs/{uuid}"), json_body=dict(body))  # type: ignore[no-any-return]

    def create_status(
        self, owner: str, project: str, uuid: str, condition: Mapping[str, Any], force: bool = False
    ) -> Any:
        """Add a status; ``force`` lets a run the server has as done (succeeded, failed...) run again."""
        body: dict[str, Any] = {"condition": dict(condition)}
        if force:
            body["force"] = True
        return self.request("POST", self.api(f"{owner}/{project}/runs/{uuid}/statuses"), json_body=body)

    def get_statuses(self, owner: str, project: str, uuid: str) -> dict[str, Any]:
        return self.request("GET", self.api(f"{owner}/{project}/runs/{uuid}/statuses"))  # type: ignore[no-any-return]

    def create_lineage(self, owner: str, project: str, uuid: str, artifacts: Iterable[Mapping[str, Any]]) -> Any:
        return self.request(
            "POST",
            self.api(f"{owner}/{project}/runs/{uuid}/lineage/artifacts"),
            json_body={"artifacts": [dict(a) for a in artifacts]},
        )

    def get_lineage(self, owner: str, project: str, uuid: str) -> list[dict[str, Any]]:
        body = self.request("GET", self.api(f"{owner}/{project}/runs/{uuid}/lineage/artifacts"))
        return list((body or {}).get("results") or [])

    def sync_run(self, owner: str, project: str, run: Mapping[str, Any]) -> Any:
        return self.request("POST", self.api(f"{owner}/{project}/runs/sync"), json_body=dict(run))

    def create_run_as(self, owner: str, project: str, run: Mapping[str, Any]) -> bool:
        """Create ``run`` under the uuid it carries (``runs/sync``, as ``polyaxon ops push`` does), and the
        project first if it is missing; False when the server already has a run of that uuid.

        The uuid is the caller's, so a request sent again after its answer was lost (a slow server, a
        timeout) finds the run it made instead of making a second one.
        """
        body = {**run, "owner": owner, "project": project}
        try:
            return self._sync_new(owner, project, body)
        except ApiError as exc:
            if exc.status_code != 404:
                raise
        self.ensure_project(owner, project)  # a new project, as the UI would create it
        return self._sync_new(owner, project, body)

    def _sync_new(self, owner: str, project: str, body: Mapping[str, Any]) -> bool:
        try:
            self.sync_run(owner, project, body)
        except ApiError as exc:
            if exc.status_code == 400 and "already exists" in str(exc):
                return False
            raise
        return True

    def _streams(self, owner: str, project: str, uuid: str, what: str) -> str:
        return f"{self.config.streams_url}/{owner}/{project}/runs/{uuid}/{what}"

    def upload_file(
        self,
        owner: str,
        project: str,
        uuid: str,
        local: Path,
        rel: str,
        size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Upload one file to ``rel`` (run-relative) in the run's artifacts; replaces only that file.

        Streamed from disk (memory stays flat whatever the size); only the first ``size`` bytes are sent,
        so a file still being appended to cannot make the body longer than announced.
        """
        directory, _, name = rel.rpartition("/")
        with open(local, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size if size is None else size
            options = {"untar": False, "path": directory, "overwrite": True}
            self._post_stream(self._streams(owner, project, uuid, "artifact"), fh, size, name, options, progress)
        return size

    def upload_tar(
        self,
        owner: str,
        project: str,
        uuid: str,
        tar: BinaryIO,
        rel_dir: str,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Upload a tar (gzipped or not) and unpack it at ``rel_dir``; the server first deletes what is there.

        Only for a folder whose every file on the server is one we sent (see ``reconcile``).
        """
        tar.seek(0, os.SEEK_END)
        size = tar.tell()
        tar.seek(0)
        options = {"untar": True, "path": rel_dir, "overwrite": True}
        self._post_stream(self._streams(owner, project, uuid, "artifacts"), tar, size, "upload.tar", options, progress)
        return size

    def _post_stream(
        self, url: str, fh: BinaryIO, size: int, name: str, options: dict[str, Any], progress: Any
    ) -> None:
        body = _MultipartFile(fh, size, name, options, progress)
        # A read timeout scaled to the size: a multi-GiB checkpoint on a slow link is not a hang.
        timeout = max(self.config.timeout, 60.0 + size / (8 << 20))
        self.request("POST", url, data=body, headers={"Content-Type": body.content_type}, timeout=timeout)

    def list_dir(self, owner: str, project: str, uuid: str, rel_dir: str) -> dict[str, int] | None:
        """The files (name -> size) the server holds in the run's ``rel_dir``; None where the folder is missing."""
        body = self.request("GET", self._streams(owner, project, uuid, "artifacts/tree"), params={"path": rel_dir})
        if not isinstance(body, dict) or body.get("error"):
            return None
        files = body.get("files") or {}
        return {str(k): int(v or 0) for k, v in files.items()} if isinstance(files, dict) else None

    def download_dir(self, owner: str, project: str, uuid: str, rel_dir: str, target: Path) -> int:
        """Fetch the run's ``rel_dir`` (the server sends a tar.gz) into ``target``; the number of files (0: none).

        Streamed to a temporary file beside ``target`` and unpacked from there: memory stays flat.
        Only plain files inside the folder are written (no links, no absolute or ``..`` paths).
        """
        import tarfile
        import tempfile

        import requests

        target.mkdir(parents=True, exist_ok=True)
        url = self._streams(owner, project, uuid, "artifacts")
        try:
            response = self.session.get(
                url, params={"path": rel_dir}, stream=True, timeout=(_CONNECT_TIMEOUT, max(self.config.timeout, 300.0))
            )
        except requests.exceptions.RequestException as exc:
            raise ServerUnreachableError(
                f"Polyaxon server {self.config.host} did not answer GET {_path(url)}: {_reason(exc)}",
                method="GET",
                url=url,
            ) from None
        with response:
            if response.status_code == 404:
                return 0
            if response.status_code >= 400:
                self._decode(response, "GET", url)
            count = 0
            with tempfile.TemporaryFile(dir=target) as tmp:
                for chunk in response.iter_content(1 << 20):
                    tmp.write(chunk)
                tmp.seek(0)
                try:
                    tar = tarfile.open(fileobj=tmp, mode="r:*")
                except tarfile.TarError:
                    return 0
                with tar:
                    for member in tar:
                        parts = Path(member.name).parts
                        if not member.isfile() or Path(member.name).is_absolute() or ".." in parts:
                            continue
                        source = tar.extractfile(member)
                        if source is None:
                            continue
                        path = target.joinpath(*parts)
                        path.parent.mkdir(parents=True, exist_ok=True)
                        with open(path, "wb") as out:
                            shutil.copyfileobj(source, out, 1 << 20)
                        count += 1
        return count

    def get_metrics(self, owner: str, project: str, uuid: str, names: Iterable[str]) -> dict[str, dict[str, list[Any]]]:
        """Read metric series back from the streams API: ``{name: {"step": [...], "metric": [...], ...}}``."""
        url = self._streams(owner, project, uuid, "events/metric")
        body = self.request("GET", url, params={"names": ",".join(names), "orient": "dict", "force": "true"})
        return {item["name"]: item.get("data") or {} for item in (body or {}).get("data") or []}


class _MultipartFile:
    """A ``multipart/form-data`` body: the ``json`` options, then the first ``size`` bytes of ``fh`` as
    ``upload_file``, streamed from disk in 1 MiB chunks (memory stays flat whatever the size).

    Not requests-toolbelt's ``MultipartEncoder``: it copies each chunk through buffers of its own and
    urllib3 reads it 16 KiB at a time, 2.2 s of CPU per GiB sent on this machine against 0.4 s for this
    body (curl: 0.5 s), CPU taken from the training beside it. Iterating starts over from the file's
    first byte, so a request that urllib3 sends again carries the whole body again.
    """

    CHUNK = 1 << 20

    def __init__(
        self, fh: BinaryIO, size: int, name: str, options: dict[str, Any], progress: Callable[[int], None] | None
    ) -> None:
        boundary = _uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self._head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="json"\r\n\r\n{json.dumps(options)}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="upload_file"; {_filename_param(name)}\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{boundary}--\r\n".encode()
        self._fh, self._start, self._size, self._progress = fh, fh.tell(), size, progress

    def __len__(self) -> int:  # requests sends it as Content-Length
        return len(self._head) + self._size + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        self._fh.seek(self._start)
        yield self._head
        left = self._size
        while left:
            n = min(self.CHUNK, left)
            data = self._fh.read(n)
            if len(data) < n:  # the file shrank under us: pad to the announced length; its next upload sends it whole
                data += b"\0" * (n - len(data))
            left -= n
            if self._progress is not None:  # per MiB chunk (a tqdm update per 16 KiB block cost seconds a GiB)
                self._progress(n)
            yield data
        yield self._tail


def _filename_param(name: str) -> str:
    """``filename="..."`` as urllib3 (and so requests) writes it: the server stores the file under this name."""
    try:
        from urllib3.fields import format_multipart_header_param as param  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # urllib3 1.26
        from urllib3.fields import format_header_param_html5 as param  # type: ignore[attr-defined,no-redef,unused-ignore]
    return str(param("filename", name))


def _path(url: str) -> str:
    """The URL without scheme and host, for messages."""
    return "/" + url.split("://", 1)[-1].partition("/")[2]


def _reason(exc: Exception) -> str:
    import requests

    name = exc.__class__.__name__
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ReadTimeout):
        return f"timed out ({name})"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"connection failed ({name}); is the server running and POLYAXON_HOST right?"
    return name


def _body(response: requests.Response) -> Any:
    content = response.content
    if not content:
        return None
    if content[:2] == b"\x1f\x8b":  # CE gzips some bodies without saying so
        try:
            import gzip

            content = gzip.decompress(content)
        except OSError:
            pass
    try:
        return json.loads(content)
    except ValueError:
        return content.decode("utf-8", "replace")


def _detail(body: Any) -> str:
    if isinstance(body, list) and body:  # DRF validation errors: ["A run with uuid ... already exists."]
        return "; ".join(str(item) for item in body)[:500]
    if isinstance(body, dict):
        if "detail" in body:
            return str(body["detail"])
        return json.dumps(body)[:500]
    if isinstance(body, str):
        return body.strip()[:300] or "no detail"
    return "no detail"
