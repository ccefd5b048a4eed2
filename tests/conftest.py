"""Shared fixtures: a real Polyaxon sandbox for the session, and an isolated environment per test.

Every test runs with ``HOME``, the offline/artifacts/archives roots and the working
directory in its own temporary folder, with no ``POLYAXON_*`` variable inherited, so
nothing leaks between tests or into the machine's shared ``/tmp/plx``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import sandbox as sandbox_mod  # noqa: E402

from polyaxon_integrations.core import env, guard, process  # noqa: E402
from polyaxon_integrations.core.client import PolyaxonClient  # noqa: E402
from polyaxon_integrations.core.config import ClientConfig  # noqa: E402
from polyaxon_integrations.core.run_client import RunClient  # noqa: E402

SERVER_PYTHON = sandbox_mod.SERVER_VENV / "bin" / "python"


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sandbox_mod.Sandbox]:
    """A Polyaxon CE server on a free loopback port, for the whole session.

    ``PLX_TEST_HOST`` reuses a server that is already running (quicker local iterations).
    """
    external = os.environ.get("PLX_TEST_HOST")
    if external:
        assert re.match(r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$", external), "loopback only"
        port = int(external.rsplit(":", 1)[1])
        assert port != 8000
        yield sandbox_mod.Sandbox(
            host=external, port=port, pid=-1, dir=Path(os.environ.get("PLX_TEST_DIR", "/nonexistent"))
        )
        return
    server = sandbox_mod.start(tmp_path_factory.mktemp("sandbox"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith("POLYAXON_") or name in env.LAUNCHER_VARS:  # a suite run under srun/torchrun is rank 0
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("POLYAXON_OFFLINE_ROOT", str(tmp_path / "offline"))
    monkeypatch.setenv("POLYAXON_ARTIFACTS_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("POLYAXON_ARCHIVES_ROOT", str(tmp_path / "archives"))
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "true")
    # What a run records beside its metrics (logs, resources, env.json, git) is off unless a test asks:
    # other tests compare exact file and lineage listings. tests/core/test_system.py turns it on.
    for name in (env.TRACK_LOGS, env.TRACK_ENV, env.TRACK_CODE, env.COLLECT_RESOURCES):
        monkeypatch.setenv(name, "false")
    monkeypatch.chdir(work)
    guard.reset_warnings()
    yield tmp_path
    for run in list(process._runs):  # a test that left a run open: end it while its server still runs
        try:
            run.end(timeout=5)
        except Exception:  # the test's own assertions matter, not this cleanup
            pass


@pytest.fixture
def host(sandbox: sandbox_mod.Sandbox, monkeypatch: pytest.MonkeyPatch) -> str:
    """The sandbox's address, also exported as ``POLYAXON_HOST``."""
    monkeypatch.setenv("POLYAXON_HOST", sandbox.host)
    return sandbox.host


@pytest.fixture
def api(sandbox: sandbox_mod.Sandbox) -> PolyaxonClient:
    """A client for reading back what the code under test wrote."""
    return PolyaxonClient(ClientConfig(host=sandbox.host))


@pytest.fixture
def project(request: pytest.FixtureRequest) -> str:
    """A fresh project name per test (created on first use by the code under test)."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return f"{base}-{uuid.uuid4().hex[:6]}"


def schedule_run(
    api: PolyaxonClient, project: str, context_root: Path, monkeypatch: pytest.MonkeyPatch, store: Path | None = None
) -> RunClient:
    """Stand in for Polyaxon scheduling a job: create the run and set the variables the job would get.

    With ``store`` (the sandbox's artifacts store), the context's ``artifacts`` folder is that store, as
    in a cluster, so what the job writes there is what the server serves.
    """
    scheduled = RunClient(project=project, client=api)
    scheduled.create(name="scheduled")
    context_root.mkdir(parents=True, exist_ok=True)
    if store is not None:
        if not store.is_dir():
            pytest.skip("needs the sandbox's store folder (not known with PLX_TEST_HOST)")
        (context_root / "artifacts").symlink_to(store)
    monkeypatch.setenv(env.IS_MANAGED, "true")
    monkeypatch.setenv(env.RUN_INSTANCE, f"default.{project}.runs.{scheduled.run_uuid}")
    monkeypatch.setenv(env.CONTEXT_ROOT, str(context_root))
    return scheduled


# Now and then, on this loaded 2-core machine, a gloo rank aborts in C++ (std::terminate) at an all-reduce or
# at teardown: about 1 in 20 multi-process trainings under load, in a rank where our adapter runs no thread.
GLOO_ABORT = "terminate called without an active exception"


def once_more_on_gloo_abort(
    attempt: Callable[[str], subprocess.CompletedProcess[str]], project: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """``attempt(project)``, and once more in a fresh project (the aborted try left its run behind) if a rank
    aborted in gloo; any other failure is the test's to see. Returns the last process and its project."""
    proc = attempt(project)
    if proc.returncode != 0 and GLOO_ABORT in proc.stderr:
        print("a rank aborted in gloo, once more:", proc.stderr[-3000:])
        project = f"{project}-again"
        proc = attempt(project)
    return proc, project


def sync_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m polyaxon_integrations sync ARGS`` in a subprocess, with this checkout importable."""
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "polyaxon_integrations", "sync", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environ,
        check=False,
    )


def official_push(host: str, project: str, run_uuid: str) -> subprocess.CompletedProcess[str]:
    """The official ``polyaxon ops push`` of an offline run under this test's offline root (from .venv-server)."""
    cli = SERVER_PYTHON.parent / "polyaxon"
    command = [str(cli), "ops", "push", "-p", f"default/{project}", "-uid", run_uuid]
    return subprocess.run(
        [*command, "--path", os.environ["POLYAXON_OFFLINE_ROOT"]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "POLYAXON_HOST": host, "COLUMNS": "200"},
    )
