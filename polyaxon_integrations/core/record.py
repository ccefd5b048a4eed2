"""What the server has confirmed of a run, kept in the run folder as ``.sync.plx.json``.

The folder is what we want the server to hold; this record is what the server answered
2xx to: the statuses, each field's value, each file's size and mtime, each lineage entry.
Only a 2xx answer moves it, so "pending" is derived (wanted != confirmed) and survives
``kill -9``: the next ``sync`` recomputes it from the folder and this record.

The record also names the process that writes the run (pid, host, start time), so a run
whose process died without ``end()`` can be recognised and ended ``failed`` by ``sync``.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .folder import SYNC_FILE, write_json_atomic

__all__ = ["Owner", "Record"]

_VERSION = 2


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), so a reused pid is not taken for it."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


@dataclass
class Owner:
    """The process that writes a run folder."""

    pid: int
    host: str
    start: str | None

    @classmethod
    def current(cls) -> Owner:
        return cls(os.getpid(), socket.gethostname(), _start_time(os.getpid()))

    def is_alive(self) -> bool | None:
        """True/False for a process of this host; None when it ran elsewhere (we cannot tell)."""
        if self.host != socket.gethostname():
            return None
        if self.pid == os.getpid():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, another user's
            pass
        start = _start_time(self.pid)
        return self.start is None or start is None or start == self.start


@dataclass
class Record:
    """The server's confirmed view of one run (see the module docstring)."""

    created: bool = False  # the server has the run
    owned: bool = False  # this folder created it: the server's folders hold only files it sent
    statuses: int = 0  # this many of the local status conditions are confirmed (a prefix)
    server_status: str | None = None  # the last status the server confirmed
    fields: dict[str, Any] = field(default_factory=dict)  # name, description, tags, inputs, outputs, meta_info
    files: dict[str, list[int]] = field(default_factory=dict)  # run-relative path -> [size, mtime_ns]
    lineage: dict[str, str] = field(default_factory=dict)  # "kind/name" -> the confirmed entry's JSON
    shared_dirs: list[str] = field(default_factory=list)  # server folders holding files we did not send
    #: items the server refused for good: key -> {"answer": ..., "status": ..., "what": fingerprint refused}
    rejected: dict[str, dict[str, Any]] = field(default_factory=dict)
    owner: dict[str, Any] | None = None  # Owner as a dict
    ended: bool = False  # the owner ended the run (end() ran): never taken for a crash
    server: str | None = None  # the server the run was started against (a crashed run is recovered there only)
    seeded: bool = False  # the server's state was read (attach, resume, or a run it already had)

    @classmethod
    def load(cls, folder: Path) -> Record:
        """The record in ``folder``; a missing, unreadable or older one is read as what it can tell."""
        try:
            data = json.loads((folder / SYNC_FILE).read_text())
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        if data.get("version") != _VERSION:  # the first format: {"pending", "created_on_server"}
            return cls(created=bool(data.get("created_on_server")))
        types = {"fields": dict, "files": dict, "lineage": dict, "rejected": dict, "shared_dirs": list}
        values = {}
        for name in cls.__dataclass_fields__:
            if name in data:
                value = data[name]
                # types read from disk are what the code expects: a hand-edited or planted file is distrusted
                if name in types and not isinstance(value, types[name]):
                    continue
                values[name] = value
        if not isinstance(values.get("statuses", 0), int) or values.get("statuses", 0) < 0:
            values.pop("statuses")
        return cls(**values)

    def save(self, folder: Path, pending: bool) -> None:
        """Write the record; ``pending`` is written for people and older readers, never read back as truth.

        ``end()`` may save while the mirror thread, past its deadline, still changes the record: a copy
        that met a change is taken again.
        """
        for attempt in range(5):
            try:
                data = asdict(self)
                break
            except RuntimeError:  # "dictionary changed size during iteration"
                if attempt == 4:
                    raise
        write_json_atomic(folder / SYNC_FILE, {"version": _VERSION, "pending": pending, **data})

    def owner_process(self) -> Owner | None:
        data = self.owner
        if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
            return None
        return Owner(int(data["pid"]), str(data.get("host")), data.get("start"))

    def claim(self) -> None:
        """This process now writes the run."""
        self.owner = asdict(Owner.current())
        self.ended = False

    def crashed(self) -> bool:
        """The process that wrote the run is gone and never ended it."""
        if self.ended:
            return False
        owner = self.owner_process()
        return owner is not None and owner.is_alive() is False

    def live_elsewhere(self) -> bool:
        """Another process (of this host, or of one we cannot see) may still be writing the run."""
        if self.ended:
            return False
        owner = self.owner_process()
        if owner is None or (owner.pid == os.getpid() and owner.host == socket.gethostname()):
            return False
        return owner.is_alive() is not False


def read_json(path: Path) -> Any:
    """A JSON file's content, None when missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
