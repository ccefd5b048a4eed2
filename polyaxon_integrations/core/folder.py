"""The run folder: every run is first a folder in the layout ``polyaxon ops push`` reads.

``<offline root>/runs/<uuid>/run.plx.json`` holds the run as the server would have it;
``lineages.plx.json``, ``events/``, ``assets/`` and ``outputs/`` sit beside it. The
folder is rewritten atomically whenever the run changes, so a ``kill -9`` or an
interpreter shutdown never leaves it half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

from . import env
from .exceptions import ConfigError

__all__ = [
    "LINEAGE_FILE",
    "RUN_FILE",
    "SYNC_FILE",
    "RunFolder",
    "ensure_offline_root",
    "offline_root",
    "owned_by_us",
    "write_json_atomic",
]

RUN_FILE = "run.plx.json"
LINEAGE_FILE = "lineages.plx.json"
SYNC_FILE = ".sync.plx.json"


_DEFAULT_ROOT = Path("/tmp/plx/offline")  # the official client's default; a module attribute so tests can move it


def offline_root() -> Path:
    return Path(env.read_str(env.OFFLINE_ROOT) or _DEFAULT_ROOT)


def owned_by_us(path: str | os.PathLike[str]) -> bool:
    """True if this process's user owns ``path`` (and, for a symlink, its target too).

    ``sync`` pushes only folders we own: a folder another user planted under a shared root
    must not be sent with our token.
    """
    uid = os.getuid()
    try:
        info = os.lstat(path)
        if info.st_uid != uid:
            return False
        return not stat.S_ISLNK(info.st_mode) or os.stat(path).st_uid == uid
    except OSError:
        return False


def _root_error(root: Path, why: str) -> ConfigError:
    return ConfigError(
        f"Cannot keep run folders in {root}: {why}. Set {env.OFFLINE_ROOT} to a folder of yours that is writable "
        f"(e.g. {env.OFFLINE_ROOT}=$HOME/.polyaxon/offline)."
    )


def ensure_offline_root(root: Path | None = None) -> Path:
    """Create the offline root's ``runs/`` if needed and check it is ours and writable; raise naming the variable.

    Called before anything is created on the server, so a read-only or full disk leaves no
    orphan run behind. The default root sits in world-writable ``/tmp``: the folders we create
    there are private (0700), and one that another user made first is refused, not used blindly.
    """
    explicit = root is not None or env.read_str(env.OFFLINE_ROOT) is not None
    root = root or offline_root()
    if not explicit:
        _private_chain(root)
    runs = root / "runs"
    try:
        runs.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise _root_error(root, exc.strerror or str(exc)) from None
    if _read_only(runs):
        raise _root_error(root, "the file system is read-only")
    if not os.access(runs, os.W_OK | os.X_OK):
        raise _root_error(root, "it is not writable")
    probe = runs / f".probe.{os.getpid()}.{threading.get_ident()}.tmp"
    try:  # a byte really written: a full disk fails here, not after the run exists on the server
        with open(probe, "wb") as fh:
            fh.write(b"x")
    except OSError as exc:
        raise _root_error(root, exc.strerror or str(exc)) from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return root


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _private_chain(root: Path) -> None:
    """The default root and its parents below ``/tmp``: created 0700, and each one must be ours."""
    chain = []
    path = root
    while path.parent != path and path != Path("/tmp"):
        chain.append(path)
        path = path.parent
    for path in reversed(chain):
        try:
            path.mkdir(mode=0o700)
            continue
        except FileExistsError:
            pass
        except OSError as exc:
            raise _root_error(root, f"cannot create {path} ({exc.strerror or exc})") from None
        if not owned_by_us(path):
            raise _root_error(root, f"{path} belongs to another user")
        # Ours, made by an older version or the official client: the root private, no parent writable by others.
        mode = stat.S_IMODE(path.stat().st_mode)
        wanted = 0o700 if path == root else mode & ~(stat.S_IWGRP | stat.S_IWOTH)
        if mode != wanted:
            os.chmod(path, wanted)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write via a temporary name unique to this process and thread, then rename over the target."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    text = json.dumps(data, default=str)  # no indent: the C encoder, ~10x faster on a big lineage
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:  # disk full or read-only: leave the old file, not a half-written temporary one
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


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

    def write_run(self, data: dict[str, Any]) -> tuple[int, int]:
        """Replace ``run.plx.json``; the :meth:`run_stamp` of what was written."""
        write_json_atomic(self.path / RUN_FILE, data)
        return self.run_stamp() or (0, 0)

    def run_stamp(self) -> tuple[int, int] | None:
        """(inode, mtime) of ``run.plx.json``: every atomic write makes a new file, so a stamp other than the one
        a process last wrote means another process (a spawned worker, a second writer) wrote it since."""
        try:
            st = (self.path / RUN_FILE).stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    def read_run(self) -> dict[str, Any]:
        return json.loads((self.path / RUN_FILE).read_text())  # type: ignore[no-any-return]

    def has_run(self) -> bool:
        return (self.path / RUN_FILE).exists()
