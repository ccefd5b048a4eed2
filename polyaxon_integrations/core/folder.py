"""The run folder: every run is first a folder in the layout ``polyaxon ops push`` reads.

``<offline root>/runs/<uuid>/run.plx.json`` holds the run as the server would have it;
``lineages.plx.json``, ``events/``, ``assets/`` and ``outputs/`` sit beside it. The
folder is rewritten atomically whenever the run changes, so a ``kill -9`` or an
interpreter shutdown never leaves it half-written.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from . import env

__all__ = ["LINEAGE_FILE", "RUN_FILE", "SYNC_FILE", "RunFolder", "archive", "offline_root", "write_json_atomic"]

RUN_FILE = "run.plx.json"
LINEAGE_FILE = "lineages.plx.json"
SYNC_FILE = ".sync.plx.json"


def offline_root() -> Path:
    return Path(env.read_str(env.OFFLINE_ROOT) or "/tmp/plx/offline")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write via a temporary name unique to this process and thread, then rename over the target."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    text = json.dumps(data, default=str)  # no indent: the C encoder, ~10x faster on a big lineage
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def archive(source: Path, target: Path, *, bookkeeping: bool = True, compresslevel: int = 6) -> int:
    """Write ``source``'s files (paths relative to it) into the tar.gz ``target``; the number of files.

    ``bookkeeping=False`` leaves out our own files (``*.plx.json``, hidden and temporary files),
    which the server must not receive as artifacts.
    """
    count = 0
    import tarfile

    with tarfile.open(target, "w:gz", compresslevel=compresslevel) as tar:
        for path in sorted(source.rglob("*")):
            rel = path.relative_to(source)
            if path.is_dir():
                continue
            if not bookkeeping and (rel.name.endswith((".plx.json", ".tmp")) or rel.name.startswith(".")):
                continue
            tar.add(path, arcname=str(rel))
            count += 1
    return count


class RunFolder:
    """One run's local folder."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_run(cls, uuid: str, root: Path | None = None) -> RunFolder:
        return cls((root or offline_root()) / "runs" / uuid)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def create(self) -> RunFolder:
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "outputs").mkdir(exist_ok=True)
        return self

    @property
    def sync_command(self) -> str:
        """The command that sends this folder to the server."""
        return f"polyaxon-integrations sync {self.path}"

    @property
    def outputs(self) -> Path:
        return self.path / "outputs"

    def write_run(self, data: dict[str, Any]) -> None:
        write_json_atomic(self.path / RUN_FILE, data)

    def read_run(self) -> dict[str, Any]:
        return json.loads((self.path / RUN_FILE).read_text())  # type: ignore[no-any-return]

    def has_run(self) -> bool:
        return (self.path / RUN_FILE).exists()

    def write_sync_state(self, state: dict[str, Any]) -> None:
        """What the server still lacks; ``sync`` reads it (absent or ``pending: false`` = in sync)."""
        write_json_atomic(self.path / SYNC_FILE, state)

    def read_sync_state(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / SYNC_FILE).read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return {}
