"""The reconcile: make the server hold what the run folder holds, knowing (not assuming) what it has.

One mechanism for the mirror thread (during the run, under a re-send budget) and ``sync``
(afterwards, no budget). The wanted state is the run as JSON (``run.plx.json``), its
lineage entries and the files of its folder; :class:`~.record.Record` is what the server
confirmed. :meth:`Reconciler.plan` derives what is pending; :meth:`Reconciler.step` sends it
as items (the run itself, a patch, each file or folder, lineage batches, each status):

- a 2xx answer moves the record, nothing else does;
- an item the server refuses for good (a 4xx other than auth, 405, 408, 409, 423, 429) is set
  aside in the record with the server's answer and named once; a batch is split to find the
  one entry refused, so everything else still goes;
- a transient failure (no answer, 5xx, the codes above) raises, and the caller backs off.

A server folder is replaced by an archive only where this folder created the run and the
server's listing of it holds nothing we did not send; anything else goes file by file, which
never deletes what others uploaded.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .client import PolyaxonClient
from .exceptions import ApiError, AuthenticationError
from .guard import warn_once
from .record import Record
from .state import DONE_STATUSES as DONE

__all__ = [
    "FIELDS",
    "Plan",
    "Reconciler",
    "confirm_created",
    "forget",
    "is_permanent",
    "matched_statuses",
    "merge_restored",
    "scan_files",
]

FIELDS = ("name", "description", "tags", "inputs", "outputs", "meta_info", "readme")
_DICT_FIELDS = ("inputs", "outputs", "meta_info")
# 4xx answers worth retrying (the sandbox has been seen to answer a valid PATCH with 405 once).
_TRANSIENT = frozenset({401, 403, 405, 408, 409, 423, 429})
_LINEAGE_BATCH = 200  # the sandbox refuses one POST of ~1,000 entries; 200 a batch goes through
_ARCHIVE_MIN = 2  # this many pending files in one events/ or resources/ folder go up as one archive
_SPOOL = 8 << 20  # archives build in memory up to this size, then on disk
T = TypeVar("T")


def is_permanent(exc: ApiError) -> bool:
    """The server will never accept this request as it is (404, the run is missing, is handled apart)."""
    code = exc.status_code or 0
    return 400 <= code < 500 and code not in _TRANSIENT and code != 404


def _stored_badly(exc: ApiError) -> bool:
    """The streams service answers 400 to an upload it failed to store (its disk full, its store down): a
    fault of the server's, not of the file; such an upload is tried again, never set aside."""
    return exc.status_code == 400 and "upload was unsuccessful" in str(exc)


def _skip(rel: str, name: str) -> bool:
    """Our bookkeeping (``*.plx.json``), hidden and temporary files are not the run's artifacts."""
    return name.startswith(".") or name.endswith((".plx.json", ".tmp")) or rel.startswith(".")


def scan_files(root: Path, hints: Iterable[str] | None = None) -> dict[str, tuple[int, int]]:
    """The folder's artifact files: run-relative path -> (size, mtime_ns); links are skipped with a warning.

    With ``hints``, only those paths are looked at (the mirror's cheap path during a run).
    """
    found: dict[str, tuple[int, int]] = {}
    if hints is not None:
        for rel in hints:
            if _skip(rel, rel.rsplit("/", 1)[-1]):
                continue
            try:
                st = os.lstat(root / rel)
            except OSError:
                continue
            if _is_link(st):
                _warn_link(root, rel)
            elif not _is_dir(st):
                found[rel] = (st.st_size, st.st_mtime_ns)
            else:
                found.update({f"{rel}/{k}": v for k, v in scan_files(root / rel).items()})
        return found
    stack = [("", root)]
    while stack:
        prefix, path = stack.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if _skip(rel, entry.name):
                continue
            if entry.is_symlink():
                _warn_link(root, rel)
            elif entry.is_dir(follow_symlinks=False):
                stack.append((f"{rel}/", Path(entry.path)))
            elif entry.is_file(follow_symlinks=False):
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                found[rel] = (st.st_size, st.st_mtime_ns)
    return found


def _is_link(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISLNK(st.st_mode)


def _is_dir(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISDIR(st.st_mode)


def _warn_link(root: Path, rel: str) -> None:
    warn_once(
        f"link-{root}/{rel}",
        f"polyaxon-integrations: {root / rel} is a symbolic link; links are never uploaded (the server would "
        "resolve them on its own disk). Log the file itself (log_artifact copies it into the run).",
    )


def matched_statuses(ours: Sequence[dict[str, Any]], theirs: Sequence[dict[str, Any]]) -> int:
    """How many of ``ours`` (a prefix) the server's conditions already hold, matched in order by type."""
    j = 0
    for i, condition in enumerate(ours):
        kind = condition.get("type")
        while j < len(theirs) and theirs[j].get("type") != kind:
            j += 1
        if j == len(theirs):
            return i
        j += 1
    return len(ours)


def merge_restored(fetched: Path, root: Path, record: Record) -> list[str]:
    """Put the server's copy of growing files (``fetched``) under ``root``, our own rows after theirs.

    For each file: missing here, it is the server's copy (confirmed as such); here and starting with the
    server's copy, it already holds everything; otherwise the server's bytes come first, followed by our
    rows the server never confirmed (all of them, without our header, for a file it never had from us).
    Returns the run-relative paths changed.
    """
    changed = []
    for path in sorted(p for p in fetched.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(fetched).as_posix()
        target = root / rel
        theirs = path.read_bytes()
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            st = target.stat()
            record.files[rel] = [st.st_size, st.st_mtime_ns]
            changed.append(rel)
            continue
        ours = target.read_bytes()
        if ours.startswith(theirs):
            continue
        confirmed = record.files.get(rel)
        if confirmed and 0 < confirmed[0] <= len(ours):
            tail = ours[confirmed[0] :]
        elif ours.startswith(b"step|"):  # our own header: theirs has one already
            tail = ours[ours.find(b"\n") :] if b"\n" in ours else b""
        else:
            tail = ours
        if theirs and not theirs.endswith(b"\n") and tail and not tail.startswith(b"\n"):
            tail = b"\n" + tail
        tmp = target.with_name(f".{target.name}.merge.tmp")
        tmp.write_bytes(theirs + tail)
        os.replace(tmp, target)
        record.files[rel] = [len(theirs), 0]  # the server has its part; ours is pending
        changed.append(rel)
    return changed


def confirm_created(record: Record, run: Mapping[str, Any]) -> None:
    """The record of a run the server just created from ``run`` (``runs/sync``): it holds all of it, and it is ours."""
    record.created = record.owned = record.seeded = True
    record.fields = {name: run.get(name) for name in FIELDS if name != "readme"}  # runs/sync drops the readme
    conditions = run.get("status_conditions") or []
    record.statuses = len(conditions)
    record.server_status = conditions[-1].get("type") if conditions else None


def forget(record: Record) -> None:
    """Nothing of what the server confirmed holds any more (it lost the run, or this is another server)."""
    record.created = record.seeded = record.owned = False
    record.statuses, record.server_status = 0, None
    record.fields, record.files, record.lineage, record.shared_dirs = {}, {}, {}, []


def _fingerprint(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class Plan:
    """What the server lacks, derived from the folder and the record."""

    create: bool = False
    patch: list[tuple[str, str | None, Any]] = field(default_factory=list)  # (field, key or None, value)
    replace: list[str] = field(default_factory=list)  # dict fields whose removed keys need a full replace
    files: dict[str, tuple[int, int]] = field(default_factory=dict)
    lineage: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.create or self.patch or self.replace or self.files or self.lineage or self.statuses)

    def describe(self) -> str:
        """One line for people: what is not on the server yet."""
        parts = []
        if self.create:
            parts.append("the run itself")
        if self.patch or self.replace:
            parts.append(", ".join(sorted({f for f, _, _ in self.patch} | set(self.replace))))
        if self.files:
            size = sum(s for s, _ in self.files.values())
            parts.append(f"{len(self.files)} file(s), {_human(size)}")
        if self.lineage:
            parts.append(f"{len(self.lineage)} lineage entr{'y' if len(self.lineage) == 1 else 'ies'}")
        if self.statuses:
            parts.append("status " + " > ".join(c.get("type", "?") for _, c in self.statuses))
        return "; ".join(parts) or "nothing"


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


class Reconciler:
    """Sends one run folder's pending items to the server and keeps the record of what it confirmed."""

    def __init__(
        self,
        root: Path,
        api: PolyaxonClient | None,
        owner: str,
        project: str,
        uuid: str,
        record: Record,
        *,
        uploads: bool = True,
        statuses: bool = True,
        save: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.root = Path(root)
        self.api = api  # None: plan only (``status``), nothing is sent
        self.owner, self.project, self.uuid = owner, project, uuid
        self.record = record
        self.uploads = uploads
        self.statuses = statuses  # False in-cluster: statuses are the platform's
        self._save_enabled = save
        self.progress = progress
        self.bytes_sent = 0  # file and archive bytes the server accepted

    @property
    def _api(self) -> PolyaxonClient:
        if self.api is None:
            raise RuntimeError("this Reconciler only plans (no client)")
        return self.api

    # --- what is pending ---------------------------------------------------------------

    def plan(
        self, run: dict[str, Any], lineage: Sequence[dict[str, Any]], hints: Iterable[str] | None = None
    ) -> Plan:
        record = self.record
        plan = Plan(create=not record.created)
        if plan.create:
            return plan  # the run is created whole from its JSON: fields and statuses come with it
        confirmed = record.fields
        for name in FIELDS:
            wanted = run.get(name)
            have = confirmed.get(name)
            if name in _DICT_FIELDS:
                wanted, have = wanted or {}, have if isinstance(have, dict) else {}
                if name != "meta_info" and any(k not in wanted for k in have):
                    plan.replace.append(name)
                    continue
                for key, value in wanted.items():
                    if key not in have or have[key] != value:
                        if not self._refused(f"patch:{name}.{key}", value):
                            plan.patch.append((name, key, value))
            elif name == "tags":
                if sorted(wanted or []) != sorted(have or []) and not self._refused("patch:tags", wanted):
                    plan.patch.append((name, None, list(wanted or [])))
            elif wanted is not None and wanted != have and not self._refused(f"patch:{name}", wanted):
                plan.patch.append((name, None, wanted))
        if self.uploads:
            for rel, stat in scan_files(self.root, hints).items():
                if record.files.get(rel) != list(stat) and not self._refused(f"file:{rel}", list(stat)):
                    plan.files[rel] = stat
        for entry in lineage:
            key = f"{entry.get('kind')}/{entry.get('name')}"
            fp = _fingerprint(entry)
            if record.lineage.get(key) != fp and not self._refused(f"lineage:{key}", fp):
                plan.lineage.append(entry)
        if self.statuses:
            conditions = run.get("status_conditions") or []
            plan.statuses = [(i, c) for i, c in enumerate(conditions) if i >= record.statuses]
        return plan

    def _refused(self, key: str, what: Any) -> bool:
        """Set aside earlier, and unchanged since: not pending (``status`` lists it)."""
        entry = self.record.rejected.get(key)
        return entry is not None and entry.get("what") == _fingerprint(what)

    def _reject(self, key: str, what: Any, exc: Exception) -> None:
        answer = str(exc)[:500]
        self.record.rejected[key] = {
            "what": _fingerprint(what),
            "status": getattr(exc, "status_code", None),
            "answer": answer,
        }
        warn_once(
            f"rejected-{self.uuid}-{key}",
            f"polyaxon-integrations: the server refused {key.replace(':', ' ', 1)} of run {self.uuid} for good "
            f"({answer}). It stays in {self.root} and everything else is still sent; change it and run "
            f"`polyaxon-integrations sync {self.root}`, or see `polyaxon-integrations status`.",
        )

    # --- sending -----------------------------------------------------------------------

    def step(
        self,
        run: dict[str, Any],
        lineage: Sequence[dict[str, Any]],
        *,
        hints: Iterable[str] | None = None,
        due: Callable[[str, tuple[int, int]], bool] | None = None,
    ) -> Plan:
        """Send what is pending (files only where ``due`` says so); what is still pending after it.

        Raises the transient errors (unreachable, 5xx...) for the caller to back off; the record keeps
        whatever was confirmed before.
        """
        pending = True
        try:
            try:
                self._send(run, lineage, hints, due)
            except ApiError as exc:
                if exc.status_code != 404 or not self.record.created:
                    raise
                # The server has no such run (it was deleted, or this is another server): nothing of what it
                # confirmed holds any more. Create it again from the folder and send everything.
                forget(self.record)
                self._send(run, lineage, None, None)
            remaining = self.plan(run, lineage, hints)
            pending = bool(remaining)
        finally:
            self.save(pending)
        return remaining

    def _send(
        self,
        run: dict[str, Any],
        lineage: Sequence[dict[str, Any]],
        hints: Iterable[str] | None,
        due: Callable[[str, tuple[int, int]], bool] | None,
    ) -> None:
        plan = self.plan(run, lineage, hints)
        if plan.create:
            self._create(run)
            plan = self.plan(run, lineage, hints)
        jobs: list[Callable[[], None]] = []
        if plan.patch or plan.replace:
            jobs.append(lambda: self._patch(plan, run))
        if plan.lineage:
            jobs.append(lambda: self._each_batch(plan.lineage, self._post_lineage, self._reject_lineage))
        if plan.statuses:
            jobs.append(lambda: self._send_statuses(plan.statuses))
        files = {rel: st for rel, st in plan.files.items() if due is None or due(rel, st)}
        _run_all(jobs, beside=(lambda: self._send_files(files)) if files else None)

    def save(self, pending: bool) -> None:
        """Write the record (``pending`` is only a note for people and older readers)."""
        if self._save_enabled:
            try:
                self.record.save(self.root, pending=pending)
            except (OSError, RuntimeError) as exc:
                warn_once(f"record-{self.root}", f"polyaxon-integrations: cannot write {self.root}: {exc}")

    def _create(self, run: dict[str, Any]) -> None:
        """Create the run from its JSON under its own uuid; adopt it if the server has it already."""
        if self._api.create_run_as(self.owner, self.project, run):
            confirm_created(self.record, run)
        else:  # the server has it (an earlier answer was lost, or another folder pushed it): read what it holds
            self.seed(run)

    def seed(self, run: dict[str, Any]) -> None:
        """Read the run the server holds into the record: its fields, and which of our statuses it has.

        Our conditions are matched in order, by type, against the server's: the run the server has
        may be an earlier push of this folder, or the same run resumed elsewhere.
        """
        data = self._api.get_run(self.owner, self.project, self.uuid)
        statuses = self._api.get_statuses(self.owner, self.project, self.uuid) or {}
        self.record.created = True
        self.record.seeded = True
        self.record.fields = {name: data.get(name) for name in FIELDS}
        self.record.server_status = statuses.get("status") or data.get("status")
        theirs = statuses.get("status_conditions") or []
        self.record.statuses = matched_statuses(run.get("status_conditions") or [], theirs)

    def _patch(self, plan: Plan, run: dict[str, Any]) -> None:
        record = self.record
        for name in plan.replace:  # keys were removed (log_inputs(reset=True)): replace the whole dict
            value = run.get(name) or {}
            try:
                self._api.patch_run(self.owner, self.project, self.uuid, {name: value, "merge": False})
                record.fields[name] = dict(value)
            except ApiError as exc:
                if not is_permanent(exc):
                    raise
                self._reject(f"patch:{name}", value, exc)
        items = []
        for item in plan.patch:
            name, key, value = item
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                where = f"patch:{name}.{key}" if key is not None else f"patch:{name}"
                self._reject(where, value, ValueError(f"the value {value!r:.100} cannot be encoded as JSON ({exc})"))
                continue
            items.append(item)
        self._each_batch(items, self._send_patch, self._reject_patch)

    def _send_patch(self, items: list[tuple[str, str | None, Any]]) -> None:
        body: dict[str, Any] = {}
        for name, key, value in items:
            if key is None:
                body[name] = value
            else:
                body.setdefault(name, {})[key] = value
        self._api.patch_run(self.owner, self.project, self.uuid, {**body, "merge": True})
        fields = self.record.fields
        for name, key, value in items:
            if key is None:
                fields[name] = value
            else:
                target = fields.get(name)
                if not isinstance(target, dict):
                    target = fields[name] = {}
                target[key] = value

    def _reject_patch(self, item: tuple[str, str | None, Any], exc: Exception) -> None:
        name, key, value = item
        self._reject(f"patch:{name}.{key}" if key is not None else f"patch:{name}", value, exc)

    def _post_lineage(self, entries: list[dict[str, Any]]) -> None:
        self._api.create_lineage(self.owner, self.project, self.uuid, entries)
        for entry in entries:
            self.record.lineage[f"{entry.get('kind')}/{entry.get('name')}"] = _fingerprint(entry)

    def _reject_lineage(self, entry: dict[str, Any], exc: Exception) -> None:
        self._reject(f"lineage:{entry.get('kind')}/{entry.get('name')}", _fingerprint(entry), exc)

    def _each_batch(
        self, items: list[T], send: Callable[[list[T]], None], reject: Callable[[T, Exception], None]
    ) -> None:
        """Send ``items`` in batches; a batch refused for good is halved until the refused item is alone."""
        batches = [items[i : i + _LINEAGE_BATCH] for i in range(0, len(items), _LINEAGE_BATCH)]
        while batches:
            batch = batches.pop(0)
            try:
                send(batch)
            except ApiError as exc:
                if not is_permanent(exc):
                    raise
                if len(batch) == 1:
                    reject(batch[0], exc)
                else:
                    half = len(batch) // 2
                    batches[:0] = [batch[:half], batch[half:]]

    def _send_statuses(self, statuses: list[tuple[int, dict[str, Any]]]) -> None:
        record = self.record
        for index, condition in statuses:
            kind = condition.get("type")
            if kind == "created":  # the server records "created" itself and ignores it when posted
                record.statuses = index + 1
                continue
            try:
                self._api.create_status(
                    self.owner, self.project, self.uuid, condition, force=record.server_status in DONE
                )
            except ApiError as exc:
                if not is_permanent(exc):
                    raise
                self._reject(f"status:{index}", condition, exc)
            else:
                # Not read back: a final status the server ignores is one it got while already done (stopped
                # in the UI), so either way it now holds a done status, and the next one needs force.
                record.server_status = kind
            record.statuses = index + 1

    def _send_files(self, files: dict[str, tuple[int, int]]) -> None:
        by_dir: dict[str, list[str]] = {}
        for rel in sorted(files):
            by_dir.setdefault(rel.rpartition("/")[0], []).append(rel)
        for rel_dir, rels in by_dir.items():
            if self._may_replace(rel_dir, rels):
                self._upload_archive(rel_dir)
                continue
            if not self.record.owned:  # others may write this run too: see whether they wrote our files
                self._check_clashes(rel_dir, rels)
            for rel in rels:
                self._upload_file(rel, files[rel])

    def _check_clashes(self, rel_dir: str, rels: list[str]) -> None:
        """A file whose size on the server is not the one it last confirmed to us was written by another
        process since: the server keeps one copy per name, so say so once, naming it (they cannot be merged)."""
        theirs = self._api.list_dir(self.owner, self.project, self.uuid, rel_dir) or {}
        for rel in rels:
            size = theirs.get(rel.rpartition("/")[2])
            confirmed = self.record.files.get(rel)
            if size is not None and confirmed is not None and confirmed[0] != size:
                what = rel.rsplit("/", 1)[-1].removesuffix(".plx")
                kind = rel.split("/")[1] if rel.startswith(("events/", "resources/")) else "file"
                warn_once(
                    f"clash-{self.uuid}-{rel}",
                    f"polyaxon-integrations: {kind} {what!r} ({rel}) of run {self.uuid} is also written by another "
                    "process; the server keeps one file per name, so each upload replaces the other's. Log under "
                    "different names per process (e.g. with a rank suffix).",
                )

    def _may_replace(self, rel_dir: str, rels: list[str]) -> bool:
        """Replace ``rel_dir`` on the server by one archive: only event/resource folders this folder owns."""
        if not self.record.owned or len(rels) < _ARCHIVE_MIN or rel_dir in self.record.shared_dirs:
            return False
        if not rel_dir.startswith(("events/", "resources/")) or rel_dir.count("/") != 1:
            return False
        theirs = self._api.list_dir(self.owner, self.project, self.uuid, rel_dir) or {}
        ours = {name for name in os.listdir(self.root / rel_dir)} if (self.root / rel_dir).is_dir() else set()
        if set(theirs) - ours:  # another process sends files here too: never delete them
            self.record.shared_dirs.append(rel_dir)
            return False
        return True

    def _upload_file(self, rel: str, stat: tuple[int, int]) -> None:
        size, _ = stat
        try:
            self.bytes_sent += self._api.upload_file(
                self.owner, self.project, self.uuid, self.root / rel, rel, size, self.progress
            )
        except FileNotFoundError:
            return  # removed since the scan (a rotated checkpoint): nothing to send
        except ApiError as exc:
            if not is_permanent(exc) or _stored_badly(exc):
                raise
            self._reject(f"file:{rel}", list(stat), exc)
            return
        except OSError as exc:
            warn_once(f"read-{self.root}/{rel}", f"polyaxon-integrations: cannot read {self.root / rel}: {exc}")
            return
        self.record.files[rel] = list(stat)

    def _upload_archive(self, rel_dir: str) -> None:
        """The whole folder as one tar.gz (each file cut at the size it had when added)."""
        folder = self.root / rel_dir
        added: dict[str, list[int]] = {}
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as spool:
            with tarfile.open(fileobj=spool, mode="w:gz", compresslevel=1) as tar:
                for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                    if _skip(entry.name, entry.name) or not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                    info = tarfile.TarInfo(entry.name)
                    info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), 0o644
                    with open(entry.path, "rb") as fh:
                        tar.addfile(info, io.BufferedReader(_Bounded(fh, st.st_size)))
                    added[f"{rel_dir}/{entry.name}"] = [st.st_size, st.st_mtime_ns]
            try:
                self.bytes_sent += self._api.upload_tar(
                    self.owner, self.project, self.uuid, spool, rel_dir, self.progress  # type: ignore[arg-type]
                )
            except ApiError as exc:
                if not is_permanent(exc) or _stored_badly(exc):
                    raise
                self.record.shared_dirs.append(rel_dir)  # refused as a folder: file by file from now on
                return
        self.record.files.update(added)


def _run_all(jobs: list[Callable[[], None]], beside: Callable[[], None] | None = None) -> None:
    """Run the REST items one after the other and the ``beside`` one (the files) on a thread of its own at
    the same time; the first error is raised after all were tried (what did go through is in the record).

    The REST items are not sent at once: the CE server answers concurrent REST requests with stray HTTP
    405s (its log: ``Method Not Allowed (POST)`` for valid statuses and lineage sent together; 61 of 180
    in a probe). Uploads go to its streams service, which took 120 of 120 beside each other and 179 of
    180 beside REST calls (the one 405 is retried), so files and REST items overlap: half of ``end()``.
    """
    errors: list[BaseException] = []

    def attempt(job: Callable[[], None]) -> None:
        try:
            job()
        except Exception as exc:  # raised on the caller's thread below
            errors.append(exc)

    thread = None
    if beside is not None:
        if jobs:
            thread = threading.Thread(target=attempt, args=(beside,), name="polyaxon-files", daemon=True)
            thread.start()
        else:
            jobs = [beside]
    for job in jobs:
        attempt(job)  # after one item's server error the next may still go; not after bad credentials or a bug
        if errors and (isinstance(errors[-1], AuthenticationError) or not isinstance(errors[-1], ApiError)):
            break
    if thread is not None:
        thread.join()
    if errors:
        raise next((e for e in errors if isinstance(e, AuthenticationError)), errors[0])


class _Bounded(io.RawIOBase):
    """At most ``size`` bytes of a file (a file being appended to is added at the size it was listed with)."""

    def __init__(self, fh: Any, size: int) -> None:
        self._fh, self._left = fh, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._left)
        data = self._fh.read(n)
        if len(data) < n:  # shrank: pad, its next upload sends it whole
            data += b"\0" * (n - len(data))
        buffer[:n] = data
        self._left -= n
        return n
