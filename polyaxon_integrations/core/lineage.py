"""Lineage: what the run produced (event series, files, models), as ``lineages.plx.json`` and the API hold it.

Paths in lineage are run-relative (the official client writes absolute local paths,
which mean nothing once the run is pushed elsewhere).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from .folder import LINEAGE_FILE, write_json_atomic
from .guard import warn_once

__all__ = ["Lineage", "copy_into", "file_hash", "lineage_entry"]


def lineage_entry(name: str, kind: str, path: str, summary: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "kind": kind, "path": path, "summary": summary or {}, "is_input": False}


def file_hash(path: Path, limit: int = 1 << 30) -> str | None:
    """A short content hash (first 12 hex of sha256); None for folders or files over ``limit`` bytes."""
    if not path.is_file() or path.stat().st_size > limit:
        return None
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def copy_into(source: Path, target: Path) -> None:
    """Copy a file or folder to ``target`` (replacing it), via a temporary name so readers never see half a copy.

    A failed copy (disk full, read-only) removes its temporary copy before raising: half a
    checkpoint left behind would keep the disk full for everything logged after it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.resolve() == target.resolve():
        return
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        if source.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(source, tmp, symlinks=False)
            shutil.rmtree(target, ignore_errors=True)
        else:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise


class Lineage:
    """The run's lineage entries by name, mirrored to ``lineages.plx.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._entries: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        try:
            for entry in json.loads((root / LINEAGE_FILE).read_text()):
                self._entries[(entry["kind"], entry["name"])] = entry
        except (OSError, ValueError, KeyError, TypeError):
            pass

    def add(self, *entries: dict[str, Any]) -> None:
        """Record ``entries``; a file that cannot be written (disk full) is warned about and rewritten whole
        at the next ``add``, so it heals when space returns (the mirror gets the entries either way)."""
        with self._lock:
            for entry in entries:
                self._entries[(entry["kind"], entry["name"])] = entry
            data = list(self._entries.values())
        try:
            write_json_atomic(self.root / LINEAGE_FILE, data)
        except OSError as exc:
            names = ", ".join(str(e.get("name")) for e in entries[:5]) + (" ..." if len(entries) > 5 else "")
            warn_once(
                f"lineage-io-{exc.errno}",
                f"polyaxon-integrations: cannot write {self.root / LINEAGE_FILE}: {exc}; lineage of {names} is "
                "kept in memory and written at the next change.",
            )

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries.values())
