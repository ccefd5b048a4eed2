"""Where a run came from: its environment (``outputs/env.json``) and its code reference (git).

Both are recorded once, at start, on the writer thread, never on the caller's: the
official client spends most of its ``init`` walking installed packages through
``importlib.metadata`` (150-300 ms here); reading the ``*.dist-info`` folder names on
``sys.path`` gives the same names and versions in under a millisecond. Git is asked
twice (status with branch, then the remote's address), with a timeout, and a folder
that is not a checkout records nothing.
"""

from __future__ import annotations

import getpass
import json
import os
import platform
import re
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .guard import warn_once
from .lineage import lineage_entry

if TYPE_CHECKING:
    from .recorder import Recorder

__all__ = ["code_reference", "env_info", "installed_packages", "record_code_ref", "record_env"]

ENV_FILE = "env.json"
_GIT_TIMEOUT = 5.0
_NORMALIZE = re.compile(r"[-_.]+")


def installed_packages(paths: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """``(name, version)`` of every distribution on ``sys.path``, sorted; the first found wins, as for imports.

    Read from folder names (``name-version.dist-info``, ``name-version[-pyX].egg-info``): no
    metadata file is opened, which is what makes this cheap.
    """
    found: dict[str, str] = {}
    for entry in sys.path if paths is None else paths:
        try:
            with os.scandir(entry or ".") as scan:
                names = [item.name for item in scan]
        except OSError:
            continue
        for folder in names:
            if folder.endswith(".dist-info"):
                stem = folder[: -len(".dist-info")]
            elif folder.endswith(".egg-info"):
                stem = folder[: -len(".egg-info")]
            else:
                continue
            name, _, rest = stem.partition("-")
            version = rest.split("-", 1)[0]
            if name and version:
                found.setdefault(_NORMALIZE.sub("-", name).lower(), version)
    return sorted(found.items())


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def env_info() -> dict[str, Any]:
    """What ``outputs/env.json`` holds: the official client's keys, plus our own version."""
    from .. import __version__

    packages = installed_packages()
    versions = dict(packages)
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    return {
        "pid": os.getpid(),
        "hostname": socket.gethostname(),
        "os": platform.platform(aliased=True),
        "system": platform.system(),
        "python_version_verbose": sys.version,
        "python_version": platform.python_version(),
        "python_executable": sys.executable,
        "user": _user(),
        "sys.argv": list(sys.argv),
        "is_notebook": "ipykernel" in sys.modules,
        "filename": os.path.basename(script) if script else None,
        "module_path": os.getcwd(),
        "packages": packages,
        "polyaxon_integrations_version": __version__,
        "polyaxon_version": versions.get("polyaxon"),
        "traceml_version": versions.get("traceml"),
    }


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", *args],  # never take the index lock from the user's own git
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git, or it hung
        return None
    return done.stdout if done.returncode == 0 else None


def _public_url(url: str) -> str:
    """The remote's address without credentials; ``git@host:org/repo.git`` as ``https://host/org/repo``."""
    url = url.strip()
    scp = re.match(r"^[\w.-]+@([\w.-]+):(?!//)(.+)$", url)
    if scp:
        url = f"https://{scp.group(1)}/{scp.group(2)}"
    url = re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url)
    return url[:-4] if url.endswith(".git") else url


def code_reference(path: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """``{commit, branch, url, is_dirty}`` of the git checkout holding ``path`` (default: the cwd), else None.

    ``is_dirty`` counts changes to tracked files only: untracked files do not change what ran.
    """
    cwd = Path(path) if path is not None else Path.cwd()
    status = _git(cwd, "status", "--porcelain=v2", "--branch", "--untracked-files=no")
    if status is None:
        return None
    info: dict[str, Any] = {"commit": None, "branch": None, "url": None, "is_dirty": False}
    upstream = None
    for line in status.splitlines():
        if line.startswith("# branch.oid "):
            commit = line.split(" ", 2)[2]
            info["commit"] = None if commit == "(initial)" else commit
        elif line.startswith("# branch.head "):
            branch = line.split(" ", 2)[2]
            info["branch"] = None if branch == "(detached)" else branch
        elif line.startswith("# branch.upstream "):
            upstream = line.split(" ", 2)[2].split("/", 1)[0]
        elif line and not line.startswith("#"):
            info["is_dirty"] = True
    if info["commit"] is None:  # a repository with no commit yet: nothing to refer to
        return None
    for remote in dict.fromkeys([upstream or "origin", "origin"]):
        url = _git(cwd, "config", "--get", f"remote.{remote}.url")
        if url and url.strip():
            info["url"] = _public_url(url)
            break
    return info


def record_env(recorder: Recorder) -> None:
    """On the writer thread: write ``outputs/env.json`` and its ``env`` lineage entry."""
    try:
        data = json.dumps(env_info(), indent=1, default=str).encode()
        recorder._write_file(data, f"outputs/{ENV_FILE}", "env", "env")
    except Exception as exc:  # provenance is a nicety: never let it stop the writer thread
        warn_once(f"env-{type(exc).__name__}", f"polyaxon-integrations: could not record the environment: {exc!r}")


def record_code_ref(recorder: Recorder, path: str | os.PathLike[str] | None = None) -> None:
    """On the writer thread: the git code reference as a ``coderef`` lineage input, named by its commit."""
    try:
        info = code_reference(path)
        if info is None:
            return
        entry = {**lineage_entry(info["commit"], "coderef", "", info), "is_input": True}
        del entry["path"]  # a commit has no path in the artifacts store
        recorder.lineage.add(entry)
        if recorder.mirror is not None:
            recorder.mirror.add_lineage([entry])
    except Exception as exc:
        warn_once(f"coderef-{type(exc).__name__}", f"polyaxon-integrations: could not record the code: {exc!r}")
