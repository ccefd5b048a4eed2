"""Run lifecycle against the real Polyaxon sandbox: create, attach, resume, statuses, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.client import ClientConfig, PolyaxonClient, RunClient
from polyaxon_integrations.core import current
from polyaxon_integrations.core.exceptions import ApiError, AuthenticationError, ConfigError, PolyaxonError
from polyaxon_integrations.core.guard import PolyaxonWarning
from tests.conftest import schedule_run
from tests.faults import closed_port_host, fault_server, run_then_fault


def statuses(api: PolyaxonClient, owner: str, project: str, uuid: str) -> list[str]:
    body = api.get_statuses(owner, project, uuid)
    return [c["type"] for c in body.get("status_conditions") or []]


def test_new_run_lifecycle(host: str, api: PolyaxonClient, project: str) -> None:
    run = tracking.init(project=project, name="first run", description="a test", tags=["a", "b"])
    assert run is not None and tracking.get_run() is run
    assert run.owner == "default" and run.status == "running"
    run.log_inputs(lr=0.1, layers=[32, 16])
    run.log_inputs(lr=0.1, optimizer="adam")  # same value again: merged, not duplicated
    run.log_outputs(accuracy=0.9)
    run.log_tags("c")
    assert run.flush(10)
    data = api.get_run("default", project, run.run_uuid)
    assert data["name"] == "first-run" and data["description"] == "a test"
    assert data["status"] == "running"
    assert data["inputs"] == {"lr": 0.1, "layers": [32, 16], "optimizer": "adam"}
    assert data["outputs"] == {"accuracy": 0.9}
    assert sorted(data["tags"]) == ["a", "b", "c"]
    assert data["is_managed"] is False and data["managed_by"] == "user"

    started = time.perf_counter()
    assert tracking.end() is True
    assert time.perf_counter() - started < 2
    assert run.end() is True  # idempotent
    assert api.get_run("default", project, run.run_uuid)["status"] == "succeeded"
    assert statuses(api, "default", project, run.run_uuid) == ["created", "running", "succeeded"]
    with pytest.raises(PolyaxonError, match="has ended"):
        run.log_inputs(x=1)

    folder = Path(run.get_artifacts_path())
    local = json.loads((folder / "run.plx.json").read_text())
    assert local["uuid"] == run.run_uuid and local["status"] == "succeeded"
    assert local["inputs"] == data["inputs"] and local["outputs"] == data["outputs"]
    assert [c["type"] for c in local["status_conditions"]] == ["created", "running", "succeeded"]
    assert json.loads((folder / ".sync.plx.json").read_text())["pending"] is False
    assert folder.parent.parent == Path(os.environ["POLYAXON_OFFLINE_ROOT"])


def test_project_is_created_when_missing(host: str, api: PolyaxonClient, project: str) -> None:
    with pytest.raises(ApiError, match=r"404|No Project"):
        api.get_project("default", project)
    run = tracking.init(project=f"default/{project}")
    assert run is not None
    assert api.get_project("default", project)["name"] == project
    run.end()


def test_client_argument(sandbox: object, api: PolyaxonClient, project: str) -> None:
    host = api.config.host
    client = PolyaxonClient(token="any-token", config=ClientConfig(host=host, use_https=None, verify_ssl=None))
    run = tracking.init(client=RunClient(client=client), project=project)
    assert run is not None and run.context.client is client
    run.end()
    assert api.get_run("default", project, run.run_uuid)["status"] == "succeeded"


def test_attach_by_uuid_logs_and_creates_nothing(host: str, api: PolyaxonClient, project: str) -> None:
    existing = RunClient(project=project, client=api)
    existing.create(name="made-elsewhere")
    assert existing.run_uuid is not None
    run = tracking.init(project=project, run_uuid=existing.run_uuid)
    assert run is not None and run.run_uuid == existing.run_uuid and run.name == "made-elsewhere"
    run.log_inputs(resumed=True)
    run.end()
    assert len(api.list_runs("default", project)) == 1
    assert existing.get_inputs() == {"resumed": True}
    assert existing.get_statuses()[0] == "succeeded"


def test_attach_to_missing_run_is_a_clear_error(host: str, api: PolyaxonClient, project: str) -> None:
    RunClient(project=project, client=api).create()
    with pytest.raises(ConfigError, match="was not found in default/"):
        tracking.init(project=project, run_uuid="0" * 32)


def test_cached_run_is_resumed_unless_is_new(host: str, api: PolyaxonClient, project: str) -> None:
    cached = RunClient(project=project, client=api)
    cached.create(name="cached")
    cache = Path.cwd() / ".polyaxon"
    cache.mkdir()
    (cache / ".project").write_text(json.dumps({"owner": "default", "name": project}))
    (cache / ".run").write_text(json.dumps({"uuid": cached.run_uuid, "owner": "default", "project": project}))
    resumed = tracking.init()
    assert resumed is not None and resumed.run_uuid == cached.run_uuid
    resumed.end()
    fresh = tracking.init(is_new=True)
    assert fresh is not None and fresh.run_uuid != cached.run_uuid and fresh.project == project
    fresh.end()
    assert len(api.list_runs("default", project)) == 2


def test_in_cluster_attaches_and_leaves_statuses_to_the_platform(
    host: str, api: PolyaxonClient, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context_root = tmp_path / "plx-context"
    scheduled = schedule_run(api, project, context_root, monkeypatch)
    (context_root / ".configs").mkdir(parents=True)
    (context_root / ".configs" / ".auth").write_text(json.dumps({"POLYAXON_AUTH_TOKEN": "scoped"}))
    run = tracking.init()
    assert run is not None and run.is_managed and run.run_uuid == scheduled.run_uuid
    assert Path(run.get_artifacts_path()) == context_root / "artifacts" / scheduled.run_uuid
    assert Path(run.get_outputs_path()).is_dir()
    run.log_inputs(epochs=3)
    run.end()
    assert len(api.list_runs("default", project)) == 1
    assert scheduled.get_inputs() == {"epochs": 3}
    assert scheduled.get_statuses()[0] == "created"  # untouched: the platform owns statuses
    assert not (Path(run.get_artifacts_path()) / "run.plx.json").exists()


SCRIPT = """
import os, signal, sys, time
from polyaxon_integrations import tracking
run = tracking.init(project=sys.argv[1])
print(run.run_uuid, flush=True)
mode = sys.argv[2]
if mode == "raise":
    raise ValueError("boom")
if mode == "interrupt":
    raise KeyboardInterrupt
if mode == "sigterm":
    time.sleep(60)
"""


@pytest.mark.parametrize(
    ("mode", "status", "message"),
    [
        ("exit", "succeeded", None),
        ("raise", "failed", "ValueError: boom"),
        ("interrupt", "stopped", "KeyboardInterrupt"),
        ("sigterm", "stopped", "SIGTERM"),
    ],
)
def test_process_end_sets_the_status(
    host: str, api: PolyaxonClient, project: str, mode: str, status: str, message: str | None
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), project, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    uuid = proc.stdout.readline().strip()
    if mode == "sigterm":
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    if mode == "sigterm":
        assert proc.returncode == -signal.SIGTERM  # the default action still happens after we end the run
    body = api.get_statuses("default", project, uuid)
    assert body["status"] == status, proc.stderr.read() if proc.stderr else ""
    last = body["status_conditions"][-1]
    if message:
        assert message in (last.get("message") or "")


def test_rejected_token_is_an_error_at_init(monkeypatch: pytest.MonkeyPatch, project: str) -> None:
    with fault_server(status=401) as server:
        monkeypatch.setenv("POLYAXON_HOST", server.host)
        monkeypatch.setenv("POLYAXON_AUTH_TOKEN", "very-secret-token")
        with pytest.raises(AuthenticationError) as info:
            tracking.init(project=project)
    message = str(info.value)
    assert "HTTP 401" in message and "POLYAXON_AUTH_TOKEN" in message
    assert "very-secret-token" not in message
    assert server.requests[0][2]["Authorization"] == "Token very-secret-token"


def test_authentication_type(monkeypatch: pytest.MonkeyPatch, project: str) -> None:
    with fault_server(status=403) as server:
        monkeypatch.setenv("POLYAXON_HOST", server.host)
        monkeypatch.setenv("POLYAXON_AUTH_TOKEN", "tok")
        monkeypatch.setenv("POLYAXON_AUTHENTICATION_TYPE", "Bearer")
        with pytest.raises(AuthenticationError, match="HTTP 403"):
            tracking.init(project=project)
    assert server.requests[0][2]["Authorization"] == "Bearer tok"


def test_unreachable_server_at_init_continues_locally(monkeypatch: pytest.MonkeyPatch, project: str) -> None:
    monkeypatch.setenv("POLYAXON_HOST", closed_port_host())
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")
    started = time.perf_counter()
    with pytest.warns(PolyaxonWarning, match="polyaxon-integrations sync"):
        run = tracking.init(project=project, name="local-first")
    assert run is not None
    run.log_inputs(lr=0.5)
    assert run.end(timeout=1.0) is False
    assert time.perf_counter() - started < 10
    folder = Path(run.get_artifacts_path())
    local = json.loads((folder / "run.plx.json").read_text())
    assert local["inputs"] == {"lr": 0.5} and local["status"] == "succeeded" and local["name"] == "local-first"
    record = json.loads((folder / ".sync.plx.json").read_text())
    assert record["pending"] is True and record["created"] is False and record["statuses"] == 0


def test_server_errors_during_the_run_never_reach_the_caller(monkeypatch: pytest.MonkeyPatch, project: str) -> None:
    with run_then_fault(monkeypatch, project, status=503) as run:
        started = time.perf_counter()
        for i in range(100):
            run.log_inputs(step=i)
        assert time.perf_counter() - started < 0.5  # nothing waits on the failing server
        with pytest.warns(PolyaxonWarning):
            assert run.end(timeout=1.0) is False
    local = json.loads((Path(run.get_artifacts_path()) / "run.plx.json").read_text())
    assert local["inputs"] == {"step": 99}


def test_token_is_never_written_outside_auth(host: str, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_AUTH_TOKEN", "tok-in-env-123")
    run = tracking.init(project=project)
    assert run is not None
    run.end()
    for path in Path(run.get_artifacts_path()).rglob("*"):
        if path.is_file():
            assert "tok-in-env-123" not in path.read_text()
    assert "tok-in-env-123" not in repr(run) + repr(run.context)


def test_tls_is_verified_unless_turned_off() -> None:
    assert PolyaxonClient(ClientConfig(host="https://127.0.0.1:1")).session.verify is True
    assert PolyaxonClient(ClientConfig(host="https://127.0.0.1:1", verify_ssl=False)).session.verify is False
    assert PolyaxonClient(ClientConfig(host="127.0.0.1:1", use_https=True)).config.host == "https://127.0.0.1:1"


def test_tracking_before_init_and_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(current, "RUN", None)
    with pytest.raises(PolyaxonError, match=r"call tracking.init\(\) first"):
        tracking.log_inputs(a=1)
    monkeypatch.setenv("POLYAXON_NO_OP", "true")
    assert tracking.init(project="p") is None
    assert tracking.log_inputs(a=1) is None
    assert tracking.end() is True


def test_offline_run_writes_a_complete_folder(project: str) -> None:
    run = tracking.init(project=project, is_offline=True, name="off")
    assert run is not None
    run.log_inputs(lr=0.1)
    assert run.end() is True
    local = json.loads((Path(run.get_artifacts_path()) / "run.plx.json").read_text())
    assert local["status"] == "succeeded" and local["inputs"] == {"lr": 0.1}
    assert [c["type"] for c in local["status_conditions"]] == ["created", "running", "succeeded"]


def test_in_cluster_events_are_served_from_the_context_folder(
    host: str, sandbox: Any, api: PolyaxonClient, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a cluster the context folder is the artifacts store: what we write there is what the server serves."""
    scheduled = schedule_run(api, project, tmp_path / "plx-context", monkeypatch, sandbox.artifacts_store)
    run = tracking.init()
    assert run is not None and run.is_managed
    for step in range(10):
        run.log_metrics(step=step, loss=step / 10)
    run.end()
    served = api.get_metrics("default", project, scheduled.run_uuid, ["loss"])["loss"]
    assert served["step"] == list(range(10)) and served["metric"] == [s / 10 for s in range(10)]
    assert len(api.list_runs("default", project)) == 1
    assert scheduled.get_outputs() == {"loss": 0.9}
    assert scheduled.get_statuses()[0] == "created"


FORKED = """
import multiprocessing as mp, os, sys, time
from polyaxon_integrations import tracking

def worker():  # a DataLoader worker, a Pool process: forked while the run is open
    time.sleep(60)

if __name__ == "__main__":
    run = tracking.init(project=sys.argv[1])
    child = mp.get_context("fork").Process(target=worker)
    child.start()
    time.sleep(0.5)
    child.terminate()  # SIGTERM, as DataLoader and Pool shut down a worker that does not stop
    child.join()
    run.log_metrics(step=0, loss=1.0)
    time.sleep(1.5)
    print(run.run_uuid, run.end(timeout=30), flush=True)
"""


def test_a_forked_child_terminated_does_not_end_the_parents_run(host: str, api: PolyaxonClient, project: str) -> None:
    """The child inherits the parent's open run and its SIGTERM handler: the child ending must not end the run."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FORKED), project],
        capture_output=True, text=True, env=os.environ.copy(), timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    uuid, ended = proc.stdout.split()
    assert ended == "True"
    assert "is complete in" not in proc.stderr, proc.stderr[-3000:]  # the child tried to end the parent's run
    conditions = [c["type"] for c in api.get_statuses("default", project, uuid)["status_conditions"]]
    assert conditions == ["created", "running", "succeeded"], proc.stderr[-3000:]
