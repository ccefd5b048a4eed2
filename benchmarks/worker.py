"""Run one measurement in a fresh interpreter with its own HOME and Polyaxon roots, and read its JSON line.

Every benchmark measures in a new process (imports, threads and caches never carry over) and never
touches the machine's shared ``/tmp/plx``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import sandbox


def run_worker(
    python: str | os.PathLike[str],
    code: str,
    args: list[str],
    host: str | None,
    timeout: float = 900,
    extra_env: dict[str, str] | None = None,
    result_file: bool = False,
) -> dict[str, Any]:
    """``python -c code *args`` in an isolated temp folder; the last stdout line, parsed as JSON.

    ``result_file``: the worker gets a file path as its last argument and writes its JSON there instead
    (for workers whose frameworks print to stdout); stdout is then discarded.
    """
    with tempfile.TemporaryDirectory(prefix="plx-bench-") as tmp:
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "POLYAXON_OFFLINE_ROOT": f"{tmp}/offline",
            "POLYAXON_ARTIFACTS_ROOT": f"{tmp}/artifacts",
            "POLYAXON_ARCHIVES_ROOT": f"{tmp}/archives",
            **(extra_env or {}),
        }
        if host:
            environ["POLYAXON_HOST"] = host
        result = Path(tmp) / "result.json"
        out = subprocess.run(
            [python, "-c", code, *args, *([str(result)] if result_file else [])],
            stdout=subprocess.DEVNULL if result_file else subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=environ, cwd=tmp, timeout=timeout, check=False,
        )  # fmt: skip
        if out.returncode != 0 or (result_file and not result.exists()):
            raise RuntimeError(f"{' '.join(args)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
        text = result.read_text() if result_file else out.stdout.strip().splitlines()[-1]
        return dict(json.loads(text))


def create_project(host: str, name: str = "bench") -> None:
    """Create the benchmarks' project on the server (nothing happens if it exists)."""
    request = urllib.request.Request(
        f"{host}/api/v1/default/projects/create", data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    try:
        urllib.request.urlopen(request).close()
    except OSError:
        pass  # exists already


@contextmanager
def sandbox_host(host: str | None, project: str = "bench") -> Iterator[str]:
    """``host`` as given, or a sandbox started for the benchmark (and stopped after it); the project exists."""
    folder = None if host else Path(tempfile.mkdtemp(prefix="plx-bench-sandbox-"))
    server = None if folder is None else sandbox.start(folder)
    address = host or server.host  # type: ignore[union-attr]
    try:
        create_project(address, project)
        yield address
    finally:
        if server is not None:
            server.stop()
        if folder is not None:  # its store holds every byte the benchmark uploaded
            shutil.rmtree(folder, ignore_errors=True)
