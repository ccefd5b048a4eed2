"""The recording side of a run: events, files and lineage in the run folder.

``Run`` keeps the lifecycle (statuses, inputs, the server); this owns what is written
under the folder. Calls validate on the caller's thread and enqueue; copies, rows and
lineage files are written by the writer thread, in order.
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .events import EventNames, InvalidValueError, json_number, to_number
from .exceptions import ConfigError
from .guard import warn_once
from .lineage import Lineage, copy_into, file_hash, lineage_entry
from .names import safe_relpath, validate_kind
from .values import storable_dict
from .writer import EventWriter

if TYPE_CHECKING:
    from .mirror import Mirror

__all__ = ["Recorder", "to_step", "to_timestamp"]


def to_step(step: Any) -> int | None:
    if step is None or type(step) is int:
        return step
    try:
        return operator.index(step)
    except TypeError:
        raise InvalidValueError(f"step must be an integer, got {step!r}.") from None


def to_timestamp(timestamp: Any) -> float:
    if timestamp is None:
        return time.time()
    if isinstance(timestamp, datetime):
        return timestamp.timestamp()
    if isinstance(timestamp, int | float):
        return float(timestamp)
    raise InvalidValueError(f"timestamp must be a datetime or seconds since the epoch, got {timestamp!r}.")


def _existing(path: str | os.PathLike[str]) -> Path:
    source = Path(os.path.abspath(path))  # ".." and "." resolved (not symlinks), so ``name`` is a real name
    if not source.exists():
        raise ConfigError(f"Cannot log {str(source)!r}: no such file or folder.")
    return source


class Recorder:
    """Writes one run's events and files; tells the mirror (if any) what to upload."""

    def __init__(self, root: Path, mirror: Mirror | None) -> None:
        self.root = root
        self.mirror = mirror
        self.names = EventNames()
        self.lineage = Lineage(root)
        self.metric_stems: dict[str, str] = {}  # names already validated; the fast path in Run checks here
        self.writer = EventWriter(
            root, on_flush=mirror.files_changed if mirror is not None else None, stems=self.metric_stems
        )

    def metrics(self, step: Any, timestamp: Any, metrics: dict[str, Any]) -> None:
        """Validate names and values (the slow path: new names, non-float values, explicit timestamps).

        A bad name or value costs only itself: the others are logged, then the error names it.
        """
        step, ts = to_step(step), to_timestamp(timestamp)
        stems = self.metric_stems
        values = {}
        errors: list[ConfigError] = []
        for name, value in metrics.items():
            try:
                if name not in stems:
                    stems[name] = self.names.stem("metric", name)
                values[name] = to_number(name, value)
            except ConfigError as exc:
                errors.append(exc)
        if values:
            self.writer.put(("metrics", step, ts, values))
        if errors:
            kept = f" The other {len(values)} metric(s) of this call were logged." if values else ""
            raise type(errors[0])(" ".join(str(e) for e in errors) + kept)

    def text(self, name: str, text: str, step: Any, timestamp: Any) -> None:
        stem = self.names.stem("text", name)
        self.writer.put(("text", stem, to_step(step), to_timestamp(timestamp), str(text)))

    def artifact(self, path: str | os.PathLike[str], name: str | None, kind: str, rel_path: str | None) -> str:
        source = _existing(path)
        validate_kind(kind)
        name = name or source.stem
        self.names.stem(kind, name)  # validates the name
        rel = self._inside(safe_relpath(rel_path if rel_path is not None else f"assets/{kind}/{source.name}"))
        self.writer.put_now(("call", lambda: self._store(source, rel, name, kind, {})))
        return rel

    def model(
        self,
        path: str | os.PathLike[str],
        name: str | None,
        framework: str | None,
        step: Any,
        timestamp: Any,
        summary: dict[str, Any] | None,
    ) -> str:
        source = _existing(path)
        name = name or source.stem
        stem = self.names.stem("model", name)
        step = to_step(step)
        info = storable_dict({"framework": framework, **(summary or {})}, "summary")  # it goes into lineage
        if step is None:
            rel = self._inside(safe_relpath(f"outputs/{source.name}"))
            self.writer.put_now(("call", lambda: self._store(source, rel, name, "model", info)))
            return rel
        rel = self._inside(safe_relpath(f"assets/model/{stem}_{step}{source.suffix}"))
        lineage_name = f"{name}-{step}"  # each checkpoint is its own lineage artifact
        self.writer.put_now(("call", lambda: self._store(source, rel, lineage_name, "model", {**info, "step": step})))
        self.writer.put(("model", stem, step, to_timestamp(timestamp), json.dumps({**info, "path": rel})))
        return rel

    def file(self, filename: str, content: str | bytes, kind: str) -> str:
        """Write ``content`` to ``outputs/<filename>`` (on the writer thread) and record it in lineage."""
        if not isinstance(filename, str) or filename.startswith("."):
            raise ConfigError(f"Invalid file name {filename!r}: use a relative name such as 'summary.txt'.")
        validate_kind(kind)
        filename = safe_relpath(filename, "file name")
        rel = self._inside(f"outputs/{filename}")
        name = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0] or filename
        self.names.stem(kind, name)
        data = content.encode() if isinstance(content, str) else bytes(content)
        self.writer.put(("call", lambda: self._write_file(data, rel, name, kind)))
        return rel

    def _inside(self, rel: str) -> str:
        """``rel`` if it stays in the run folder once symlinks there are followed, else an error."""
        root = self.root.resolve()
        target = (root / rel).resolve()
        if root not in target.parents:
            raise ConfigError(f"Invalid path {rel!r}: it leads out of the run folder (through a symlink).")
        return rel

    def _write_file(self, data: bytes, rel: str, name: str, kind: str) -> None:
        target = self.root / rel
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            self._not_kept(rel, f"{len(data)} bytes for {rel}", exc)
            return
        self._record(rel, name, kind, {"path": rel, "hash": file_hash(target)})

    def _not_kept(self, rel: str, what: str, exc: OSError) -> None:
        """Name what a disk fault kept out of the run (once per file), and go on."""
        warn_once(
            f"not-kept-{rel}",
            f"polyaxon-integrations: could not save {what} into the run folder {self.root}: {exc.strerror or exc}. "
            "It is not part of the run; log it again once the disk takes writes again.",
        )

    def _store(self, source: Path, rel: str, name: str | None, kind: str, summary: dict[str, Any]) -> None:
        """On the writer thread: copy into the run folder, then lineage and upload."""
        target = self.root / rel
        if not source.exists():  # e.g. a checkpoint rotated away before the writer got to it
            warn_once(f"vanished-{source}", f"polyaxon-integrations: {source} was removed before it could be saved.")
            return
        try:
            copy_into(source, target)  # removes its temporary copy if it fails
        except OSError as exc:
            self._not_kept(rel, f"{source} (as {rel})", exc)
            return
        self._record(rel, name, kind, {**summary, "path": rel, "hash": file_hash(target)})

    def _record(self, rel: str, name: str | None, kind: str, summary: dict[str, Any]) -> None:
        if name is not None:
            entry = lineage_entry(name, kind, rel, summary)
            self.lineage.add(entry)
            if self.mirror is not None:
                self.mirror.add_lineage([entry])
        if self.mirror is not None:
            self.mirror.files_changed([rel])

    def summarize(self, skip_outputs: set[str]) -> dict[str, Any]:
        """Each series' summary into lineage; returns each metric's last value (for the outputs)."""
        entries = []
        last: dict[str, Any] = {}
        for (kind, stem), series in self.writer.series.items():
            entries.append(lineage_entry(stem, kind, f"events/{kind}/{stem}.plx", series.summary()))
            if kind == "metric" and stem not in skip_outputs:
                last[stem] = json_number(series.last)
        if entries:
            self.lineage.add(*entries)
            if self.mirror is not None:
                self.mirror.add_lineage(entries)
        return last
