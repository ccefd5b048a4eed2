"""Run one measurement in a fresh interpreter with its own HOME and Polyaxon roots, and read its JSON line.

Every benchmark measures in a new process (imports, threads and caches never carry over) and never
touches the machine's shared ``/tmp/plx``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Any


def run_worker(python: str, code: str, args: list[str], host: str | None, timeout: float = 900) -> dict[str, Any]:
    """``python -c code *args`` in an isolated temp folder; the last stdout line, parsed as JSON."""
    with tempfile.TemporaryDirectory(prefix="plx-bench-") as tmp:
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "POLYAXON_OFFLINE_ROOT": f"{tmp}/offline",
            "POLYAXON_ARTIFACTS_ROOT": f"{tmp}/artifacts",
            "POLYAXON_ARCHIVES_ROOT": f"{tmp}/archives",
        }
        if host:
            environ["POLYAXON_HOST"] = host
        out = subprocess.run(
            [python, "-c", code, *args],
            capture_output=True, text=True, env=environ, cwd=tmp, timeout=timeout, check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr[-2000:]}")
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))
