"""Offline runs and ``sync``: the folder is the run, and pushing it (ours or ``polyaxon ops push``) loses nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.client import PolyaxonClient
from polyaxon_integrations.core.run import Run
from tests.conftest import official_push, sync_cli
from tests.faults import closed_port_host


def offline_run(project: str, steps: int = 50, **init: object) -> Run:
    run = tracking.init(project=project, is_offline=True, name="offline-run", tags=["off"], **init)  # type: ignore[arg-type]
    assert run is not None
    run.log_inputs(lr=0.01, batch=8)
    for step in range(1, steps + 1):
        run.log_metrics(step=step, loss=1.0 / step, acc=step / steps)
    model = Path.cwd() / "model.bin"
    model.write_bytes(b"\x00weights" * 100)
    run.log_model(model, name="final", framework="torch")
    run.end()
    return run


def check_on_server(api: PolyaxonClient, project: str, run: Run, steps: int = 50) -> None:
    data = api.get_run("default", project, run.run_uuid)
    assert data["name"] == "offline-run" and data["status"] == "succeeded"
    assert data["inputs"] == {"lr": 0.01, "batch": 8}
    assert data["outputs"]["loss"] == 1.0 / steps and data["outputs"]["acc"] == 1.0
    metrics = api.get_metrics("default", project, run.run_uuid, ["loss", "acc"])
    assert metrics["loss"]["step"] == list(range(1, steps + 1))
    assert metrics["loss"]["metric"] == [1.0 / s for s in range(1, steps + 1)]
    conditions = api.get_statuses("default", project, run.run_uuid)["status_conditions"]
    assert [c["type"] for c in conditions] == ["created", "running", "succeeded"]
    lineage = {(e["kind"], e["name"]): e for e in api.get_lineage("default", project, run.run_uuid)}
    assert lineage[("model", "final")]["path"] == "outputs/model.bin"
    assert lineage[("metric", "loss")]["summary"]["metric"]["last"] == 1.0 / steps


def test_offline_run_makes_no_network_call(monkeypatch: pytest.MonkeyPatch, project: str) -> None:
    monkeypatch.setenv("POLYAXON_HOST", closed_port_host())
    import socket

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("an offline run opened a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    run = offline_run(project)
    folder = Path(run.get_artifacts_path())
    assert folder == Path(os.environ["POLYAXON_OFFLINE_ROOT"]) / "runs" / run.run_uuid
    local = json.loads((folder / "run.plx.json").read_text())
    assert local["status"] == "succeeded" and local["outputs"]["acc"] == 1.0
    assert local["meta_info"] == {"has_metrics": True, "has_events": True}
    assert (folder / "events" / "metric" / "loss.plx").read_text().count("\n") == 50
    assert {e["name"] for e in json.loads((folder / "lineages.plx.json").read_text())} == {"loss", "acc", "final"}
    assert (folder / "outputs" / "model.bin").exists()


def test_our_sync_pushes_offline_runs_idempotently(host: str, api: PolyaxonClient, project: str) -> None:
    run = offline_run(project)
    result = sync_cli(run.get_artifacts_path())
    assert result.returncode == 0, result.stderr
    assert f"/ui/default/{project}/runs/{run.run_uuid}" in result.stdout
    check_on_server(api, project, run)
    again = sync_cli(run.get_artifacts_path())  # same folder again: nothing duplicated
    assert again.returncode == 0, again.stderr
    check_on_server(api, project, run)
    nothing = sync_cli()  # no argument: only pending runs, and there are none left
    assert "nothing to push" in nothing.stdout


def test_sync_all_pending_and_project_override(host: str, api: PolyaxonClient, project: str) -> None:
    first, second = offline_run(project), offline_run(project)
    result = sync_cli("--project", f"default/{project}-moved")
    assert result.returncode == 0, result.stderr
    assert "2 pushed, 0 failed" in result.stdout
    for run in (first, second):
        check_on_server(api, f"{project}-moved", run)


def test_official_ops_push_accepts_our_offline_run(host: str, api: PolyaxonClient, project: str) -> None:
    api.create_project("default", project)  # the official push does not create projects
    for _ in range(5):  # the official client does not retry the sandbox's stray HTTP 405s: push a new run then
        run = offline_run(project)
        result = official_push(host, project, run.run_uuid)
        if "Status: 405" not in result.stdout:  # its words (polyaxon/exceptions.py), and it still exits 0
            break
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Finished pushing offline run" in result.stdout
    check_on_server(api, project, run)


def test_server_down_at_init_then_sync(
    monkeypatch: pytest.MonkeyPatch, host: str, api: PolyaxonClient, project: str
) -> None:
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")
    monkeypatch.setenv("POLYAXON_HOST", closed_port_host())
    with pytest.warns(UserWarning):
        run = tracking.init(project=project, name="offline-run", tags=["off"])
    assert run is not None
    run.log_inputs(lr=0.01, batch=8)
    for step in range(1, 51):
        run.log_metrics(step=step, loss=1.0 / step, acc=step / 50)
    model = Path.cwd() / "model.bin"
    model.write_bytes(b"w" * 64)
    run.log_model(model, name="final", framework="torch")
    with pytest.warns(UserWarning, match="polyaxon-integrations sync"):
        assert run.end(timeout=0.5) is False
    monkeypatch.setenv("POLYAXON_HOST", host)  # the server is back
    result = sync_cli()
    assert result.returncode == 0, result.stderr
    check_on_server(api, project, run)
    state = json.loads((Path(run.get_artifacts_path()) / ".sync.plx.json").read_text())
    assert state["pending"] is False and state["created"] is True and state["server_status"] == "succeeded"


def test_sync_to_another_server_address_trusts_nothing_the_first_confirmed(
    monkeypatch: pytest.MonkeyPatch, host: str, api: PolyaxonClient, project: str
) -> None:
    """The record says what one server confirmed. Pushed to another address (another server, or this one
    under another name), the run is looked up and completed there: here the same sandbox as ``localhost``,
    which must end with the run exactly once, statuses and points not doubled."""
    run = tracking.init(project=project, name="offline-run")
    assert run is not None
    run.log_inputs(lr=0.01, batch=8)
    for step in range(1, 51):
        run.log_metrics(step=step, loss=1.0 / step, acc=step / 50)
    assert run.end(timeout=30) is True
    folder = Path(run.get_artifacts_path())
    # the server at the other address lacks the run's outputs: what the first confirmed must not hide that
    api.patch_run("default", project, run.run_uuid, {"outputs": {}, "merge": False})
    monkeypatch.setenv("POLYAXON_HOST", host.replace("127.0.0.1", "localhost"))
    result = sync_cli(str(folder))
    assert result.returncode == 0, result.stderr
    assert "nothing to push" not in result.stdout + result.stderr
    data = api.get_run("default", project, run.run_uuid)
    assert data["outputs"]["acc"] == 1.0 and data["status"] == "succeeded"
    assert len(api.list_runs("default", project)) == 1
    conditions = api.get_statuses("default", project, run.run_uuid)["status_conditions"]
    assert [c["type"] for c in conditions] == ["created", "running", "succeeded"]
    assert api.get_metrics("default", project, run.run_uuid, ["acc"])["acc"]["step"] == list(range(1, 51))
    record = json.loads((folder / ".sync.plx.json").read_text())
    assert record["server"] == host.replace("127.0.0.1", "localhost") and record["pending"] is False


def test_sync_reports_bad_paths(host: str, tmp_path: Path) -> None:
    result = sync_cli(str(tmp_path / "nope"))
    assert result.returncode == 2 and "neither a run folder" in result.stderr
