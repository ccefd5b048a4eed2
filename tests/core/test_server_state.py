"""The server's state is known, not assumed (real sandbox, read back over its REST and streams API):
resumed and attached runs get the statuses they end with, a second machine never deletes the first's
files, ``kill -9`` is repaired by a plain ``sync``, a server frozen during ``init`` still gets the final
status, and two processes writing one run lose nothing of each other's."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.core.client import PolyaxonClient
from polyaxon_integrations.core.run_client import RunClient
from tests.conftest import ROOT, sync_cli

pytestmark = pytest.mark.server


def status(api: PolyaxonClient, project: str, uuid: str) -> str:
    return str(api.get_statuses("default", project, uuid)["status"])


def served_steps(api: PolyaxonClient, project: str, uuid: str, name: str) -> list[int]:
    return list(api.get_metrics("default", project, uuid, [name]).get(name, {}).get("step") or [])


def script(code: str, environ: dict[str, str], timeout: float = 120) -> subprocess.Popen[str]:
    env = {**os.environ, **environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", textwrap.dedent(code)]
    return subprocess.Popen(command, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_finished_run_resumed_elsewhere_and_failed_reads_failed(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = tracking.init(project=project)
    assert run is not None and run.end() is True
    assert status(api, project, run.run_uuid) == "succeeded"
    monkeypatch.setenv("POLYAXON_OFFLINE_ROOT", str(tmp_path / "machine-2"))
    resumed = tracking.init(project=project, run_uuid=run.run_uuid)
    assert resumed is not None
    assert resumed.flush() is True
    assert status(api, project, run.run_uuid) == "running"  # a done run runs again (sent with force)
    assert resumed.end("failed", message="diverged") is True
    body = api.get_statuses("default", project, run.run_uuid)
    assert body["status"] == "failed" and body["status_conditions"][-1]["message"] == "diverged"


def test_attaching_to_someone_elses_run_reads_running_then_our_final_status(
    host: str, api: PolyaxonClient, project: str
) -> None:
    theirs = RunClient(project=project, client=api)
    theirs.create(name="scheduled-by-someone")
    assert status(api, project, str(theirs.run_uuid)) == "created"
    run = tracking.init(project=project, run_uuid=theirs.run_uuid)
    assert run is not None
    run.log_metrics(step=0, loss=1.0)
    assert run.flush() is True
    assert status(api, project, run.run_uuid) == "running"
    assert run.end("stopped") is True
    assert status(api, project, run.run_uuid) == "stopped"


def test_machine_two_resumes_and_sync_all_keeps_every_file_of_machine_one(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = tracking.init(project=project)
    assert first is not None
    first.log_file("notes-1.txt", "from machine 1")
    for step in range(5):
        first.log_metrics(step=step, loss=step / 10)
    assert first.end() is True
    uuid = first.run_uuid

    machine2 = tmp_path / "machine-2"
    monkeypatch.setenv("POLYAXON_OFFLINE_ROOT", str(machine2))
    second = tracking.init(project=project, run_uuid=uuid)
    assert second is not None
    second.log_file("notes-2.txt", "from machine 2")
    for step in range(5, 10):
        second.log_metrics(step=step, loss=step / 10)
    assert second.end() is True

    result = sync_cli("--all", "--root", str(machine2))
    assert result.returncode == 0, result.stderr
    outputs = api.list_dir("default", project, uuid, "outputs") or {}
    assert {"notes-1.txt", "notes-2.txt"} <= set(outputs)
    assert served_steps(api, project, uuid, "loss") == list(range(10))
    assert status(api, project, uuid) == "succeeded"


KILLED = """
    import os, sys, time
    from polyaxon_integrations import tracking
    run = tracking.init(project=os.environ["PROJECT"])
    print(run.run_uuid, flush=True)
    step = 0
    while True:
        run.log_metrics(step=step, loss=step / 3)
        step += 1
        time.sleep(0.002)
"""


@pytest.mark.parametrize("trial", range(3))
def test_kill_9_at_a_random_moment_then_a_plain_sync_sends_every_point_on_disk(
    host: str, api: PolyaxonClient, project: str, tmp_path: Path, trial: int
) -> None:
    environ = {"PROJECT": project, "POLYAXON_HOST": host, "POLYAXON_INTEGRATIONS_RERAISE": "false"}
    proc = script(KILLED, environ)
    assert proc.stdout is not None
    uuid = proc.stdout.readline().strip()
    assert len(uuid) == 32, proc.stderr.read() if proc.stderr else ""
    time.sleep(random.uniform(0.5, 4.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    folder = Path(os.environ["POLYAXON_OFFLINE_ROOT"]) / "runs" / uuid
    on_disk = (folder / "events" / "metric" / "loss.plx").read_text().count("\n")
    assert on_disk > 0

    shown = subprocess.run(
        [sys.executable, "-m", "polyaxon_integrations", "status"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
    ).stdout
    assert uuid in shown and "crashed" in shown and "polyaxon-integrations sync" in shown

    result = sync_cli()  # plain: finds the crashed run by itself
    assert result.returncode == 0, result.stderr
    assert served_steps(api, project, uuid, "loss") == list(range(on_disk))
    body = api.get_statuses("default", project, uuid)
    assert body["status"] == "failed" and "ended without ending the run" in body["status_conditions"][-1]["message"]
    assert "nothing to push" in sync_cli().stdout


def test_the_next_init_in_the_same_root_recovers_a_killed_run(
    host: str, api: PolyaxonClient, project: str
) -> None:
    proc = script(KILLED, {"PROJECT": project, "POLYAXON_HOST": host, "POLYAXON_INTEGRATIONS_RERAISE": "false"})
    assert proc.stdout is not None
    uuid = proc.stdout.readline().strip()
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    with pytest.warns(UserWarning, match="ended without ending them"):
        run = tracking.init(project=project)
        assert run is not None and run._recovery is not None
        run._recovery.join(60)
    run.end()
    assert status(api, project, uuid) == "failed"


def test_a_server_frozen_during_init_still_gets_the_final_status(
    sandbox: Any, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid, host = sandbox.pid, sandbox.host
    if pid <= 0:
        pytest.skip("needs the sandbox this session started (its pid)")
    api.ensure_project("default", project)
    monkeypatch.setenv("POLYAXON_HOST", host)
    monkeypatch.setenv("POLYAXON_TIMEOUT", "2")
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.warns(UserWarning):
            run = tracking.init(project=project, name="frozen")
        assert run is not None
        assert time.monotonic() - started < 15
        run.log_metrics(step=0, loss=1.0)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert run.end(timeout=60) is True
    assert status(api, project, run.run_uuid) == "succeeded"
    assert json.loads((Path(run.get_artifacts_path()) / ".sync.plx.json").read_text())["pending"] is False


TWO_WRITERS = """
    import os
    from polyaxon_integrations import tracking
    run = tracking.init(project=os.environ["PROJECT"], run_uuid=os.environ.get("RUN") or None)
    print(run.run_uuid, flush=True)
    name = os.environ["METRIC"]
    for step in range(int(os.environ["STEPS"])):
        run.log_metrics(step=step, **{name: step / 7})
        if step % 200 == 0:
            run.flush()
    assert run.end() is True
"""


def test_two_processes_in_two_folders_log_into_one_run_and_lose_nothing(
    host: str, api: PolyaxonClient, project: str, tmp_path: Path
) -> None:
    steps = 2000
    base = {"PROJECT": project, "POLYAXON_HOST": host, "STEPS": str(steps)}
    first = script(TWO_WRITERS, {**base, "METRIC": "a", "POLYAXON_OFFLINE_ROOT": str(tmp_path / "one")})
    assert first.stdout is not None
    uuid = first.stdout.readline().strip()
    second = script(
        TWO_WRITERS, {**base, "METRIC": "b", "RUN": uuid, "POLYAXON_OFFLINE_ROOT": str(tmp_path / "two")}
    )
    for proc in (first, second):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    for name in ("a", "b"):
        assert served_steps(api, project, uuid, name) == list(range(steps)), name


SAME_METRIC = """
    import os, time
    from polyaxon_integrations import tracking
    run = tracking.init(project=os.environ["PROJECT"], run_uuid=os.environ.get("RUN") or None)
    print(run.run_uuid, flush=True)
    for step in range(int(os.environ["STEPS"])):
        run.log_metrics(step=step, loss=step / 7)
        if step % 50 == 0:
            run.flush()
            time.sleep(0.2)
    run.end()
"""


def test_the_same_metric_from_two_processes_is_named_once(
    host: str, project: str, tmp_path: Path
) -> None:
    base = {"PROJECT": project, "POLYAXON_HOST": host, "STEPS": "600", "POLYAXON_INTEGRATIONS_RERAISE": "false"}
    first = script(SAME_METRIC, {**base, "POLYAXON_OFFLINE_ROOT": str(tmp_path / "one")})
    assert first.stdout is not None
    uuid = first.stdout.readline().strip()
    time.sleep(1.0)
    second = script(SAME_METRIC, {**base, "RUN": uuid, "POLYAXON_OFFLINE_ROOT": str(tmp_path / "two")})
    _, err_second = second.communicate(timeout=180)
    first.communicate(timeout=180)
    assert second.returncode == 0, err_second
    assert err_second.count("metric 'loss' (events/metric/loss.plx)") == 1, err_second
