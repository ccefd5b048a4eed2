"""Interop with the official Polyaxon client (2.18.0, installed in the server virtualenv).

Users mix both packages: they log in with the official CLI and then log with ours, look at our runs
with ``polyaxon ops``, or resume a run the official client created. These tests run the official
package in subprocesses (per-test HOME, loopback sandbox only, never the version check) and check that
both agree on the CLI's config files and on what a run looks like on the server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.client import PolyaxonClient, RunClient
from polyaxon_integrations.core.context import resolve
from tests.conftest import SERVER_PYTHON

CLI = SERVER_PYTHON.parent / "polyaxon"

# The official CLI writes .auth with the process umask (0644 here); our world-readable warning is expected.
pytestmark = pytest.mark.filterwarnings("ignore:.*can be read by other users:UserWarning")

WRITE_CONFIGS = """
import sys
from polyaxon import settings  # applies ~/.polyaxon/.home, as every CLI command does
from polyaxon._managers.auth import AuthConfigManager
from polyaxon._managers.client import ClientConfigManager
from polyaxon._managers.project import ProjectConfigManager
from polyaxon._managers.run import RunConfigManager
from polyaxon._managers.user import UserConfigManager
from polyaxon._schemas.authentication import AccessTokenConfig
from polyaxon._schemas.client import ClientConfig
from polyaxon._sdk.schemas.v1_project import V1Project
from polyaxon._sdk.schemas.v1_run import V1Run
from polyaxon._sdk.schemas.v1_user import V1User
host, visibility, project, run_uuid = sys.argv[1:]
where = getattr(ProjectConfigManager.Visibility, visibility)
if visibility == "GLOBAL":
    ClientConfigManager.set_config(ClientConfig(host=host, verify_ssl=False))
    AuthConfigManager.set_config(AccessTokenConfig(username="alice", token="tok123"))
    UserConfigManager.set_config(V1User(username="alice", email="a@x.io", organization="acme"))
ProjectConfigManager.set_config(V1Project(owner="default", name=project), visibility=where)
RunConfigManager.set_config(V1Run(uuid=run_uuid, owner="default", project=project, name="cached"), visibility=where)
"""

READ_RUN = """
import json, sys
from polyaxon.client import RunClient
rc = RunClient(owner="default", project=sys.argv[1], run_uuid=sys.argv[2])
rc.refresh_data()
d = rc.run_data
latest, conditions = rc.get_statuses()
v = lambda x: getattr(x, "value", x)
print(json.dumps({"name": d.name, "description": d.description, "inputs": d.inputs, "outputs": d.outputs,
                  "tags": d.tags, "status": v(d.status), "is_managed": d.is_managed, "managed_by": v(d.managed_by),
                  "latest": v(latest), "conditions": [[v(c.type), c.reason, c.message] for c in conditions]}))
"""

OFFICIAL_RUN = """
import sys
from polyaxon import tracking
run = tracking.init(project=sys.argv[1], name="official")
tracking.log_inputs(a=1)
tracking.end()
print(run.run_uuid)
"""


def official(host: str, *args: str) -> str:
    """Run the official python/CLI with the test's HOME and cwd, the sandbox host and no version check."""
    skip = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "POLYAXON_NO_API"}
    environ = {k: v for k, v in os.environ.items() if k not in skip}
    environ.update(POLYAXON_HOST=host, COLUMNS="200")
    assert environ["HOME"] != str(Path("~root").expanduser())
    proc = subprocess.run(args, env=environ, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"{args[0]} {args[1:3]} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def official_python(host: str, code: str, *args: str) -> str:
    return official(host, str(SERVER_PYTHON), "-c", code, *args).strip().splitlines()[-1]


def official_read(host: str, project: str, uuid: str) -> dict[str, Any]:
    return json.loads(official_python(host, READ_RUN, project, uuid))  # type: ignore[no-any-return]


def cli_statuses(host: str, project: str, uuid: str) -> tuple[str, dict[str, list[str]]]:
    """``polyaxon ops statuses`` output, and its table rows keyed by TYPE (cells in column order)."""
    out = official(host, str(CLI), "ops", "statuses", "-p", f"default/{project}", "-uid", uuid)
    rows: dict[str, list[str]] = {}
    for line in out.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line)[1:-1]]
        if cells and cells[0] != "TYPE":
            rows[cells[0]] = cells
    return out, rows


def server_run(api: PolyaxonClient, project: str, name: str) -> str:
    client = RunClient(owner="default", project=project, client=api)
    client.create(name=name)
    assert client.run_uuid is not None
    return client.run_uuid


def uuids(api: PolyaxonClient, project: str) -> set[str]:
    return {r["uuid"] for r in api.list_runs("default", project)}


def test_global_config_files_of_the_official_cli(sandbox: Any, api: PolyaxonClient, project: str) -> None:
    cached = server_run(api, project, "cached")
    assert "POLYAXON_HOST" not in os.environ  # everything below comes from the files
    official_python(sandbox.host, WRITE_CONFIGS + "print('ok')", sandbox.host, "GLOBAL", project, cached)
    folder = Path(os.environ["HOME"]) / ".polyaxon"
    assert json.loads((folder / ".auth").read_text())["POLYAXON_AUTH_TOKEN"] == "tok123"

    ctx = resolve()
    assert ctx.config is not None
    assert (ctx.config.host, ctx.config.token, ctx.config.verify_ssl) == (sandbox.host, "tok123", False)
    assert (ctx.owner, ctx.project, ctx.run_uuid) == ("default", project, cached)
    assert ctx.sources["run"] == "cached .run"
    other = resolve(project="elsewhere")  # a bare project name takes the owner from .user's organization
    assert (other.owner, other.project, other.run_uuid) == ("acme", "elsewhere", None)

    run = tracking.init()
    assert run is not None and run.run_uuid == cached and run.name == "cached"
    run.log_inputs(resumed=True)
    assert run.end() is True
    assert uuids(api, project) == {cached}
    assert api.get_run("default", project, cached)["inputs"] == {"resumed": True}

    fresh = tracking.init(is_new=True)
    assert fresh is not None and fresh.run_uuid != cached and (fresh.owner, fresh.project) == ("default", project)
    assert fresh.end() is True
    assert uuids(api, project) == {cached, fresh.run_uuid}


def test_local_cache_of_the_official_cli_wins(sandbox: Any, api: PolyaxonClient, project: str) -> None:
    other = f"{project}-global"
    global_run, local_run = server_run(api, other, "global"), server_run(api, project, "local")
    official_python(sandbox.host, WRITE_CONFIGS + "print('ok')", sandbox.host, "GLOBAL", other, global_run)
    official_python(sandbox.host, WRITE_CONFIGS + "print('ok')", sandbox.host, "LOCAL", project, local_run)
    assert json.loads((Path.cwd() / ".polyaxon" / ".run").read_text())["uuid"] == local_run

    ctx = resolve()
    assert (ctx.owner, ctx.project, ctx.run_uuid) == ("default", project, local_run)
    run = tracking.init()
    assert run is not None and run.run_uuid == local_run and run.name == "local"
    assert run.end() is True
    assert uuids(api, project) == {local_run} and uuids(api, other) == {global_run}


def test_home_path_set_by_the_official_cli(sandbox: Any, api: PolyaxonClient, project: str, tmp_path: Path) -> None:
    cached = server_run(api, project, "cached")
    elsewhere = tmp_path / "plx-home"
    set_home = "import sys; from polyaxon._cli.config import set_home_path; set_home_path(sys.argv[1]); print('ok')"
    official_python(sandbox.host, set_home, str(elsewhere))
    official_python(sandbox.host, WRITE_CONFIGS + "print('ok')", sandbox.host, "GLOBAL", project, cached)
    assert (elsewhere / ".polyaxon" / ".client").is_file()  # where the official client now reads host and token
    token = "from polyaxon import settings; print(settings.AUTH_CONFIG.token)"
    assert official_python(sandbox.host, token) == "tok123"
    ctx = resolve()
    assert ctx.config is not None and (ctx.config.host, ctx.config.token) == (sandbox.host, "tok123")


def test_our_run_reads_back_through_the_official_cli_and_client(host: str, project: str) -> None:
    run = tracking.init(project=project, name="interop-run", description="made by us", tags=["a", "b"])
    assert run is not None
    tracking.log_inputs(lr=0.1, layers=[32, 16])
    tracking.log_outputs(accuracy=0.9)
    tracking.log_tags("c")
    assert tracking.end() is True
    expected = {
        "name": "interop-run",
        "description": "made by us",
        "inputs": {"lr": 0.1, "layers": [32, 16]},
        "outputs": {"accuracy": 0.9},
        "status": "succeeded",
        "is_managed": False,
        "managed_by": "user",
    }

    got = json.loads(
        official(host, str(CLI), "ops", "get", "-p", f"default/{project}", "-uid", run.run_uuid, "-o", "json")
    )
    assert {k: got.get(k) for k in expected} == expected
    assert (got["uuid"], got["owner"], got["project"]) == (run.run_uuid, "default", project)
    assert sorted(got["tags"]) == ["a", "b", "c"]

    out, rows = cli_statuses(host, project, run.run_uuid)
    assert "Latest status: succeeded" in out
    assert list(rows) == ["created", "running", "succeeded"]
    assert rows["running"][2:4] == ["PolyaxonIntegrations", "Run is running"]

    seen = official_read(host, project, run.run_uuid)
    assert {k: seen[k] for k in expected} == expected
    assert sorted(seen["tags"]) == ["a", "b", "c"]
    assert seen["latest"] == "succeeded"
    assert [c[0] for c in seen["conditions"]] == ["created", "running", "succeeded"]


def test_succeeded_row_of_ops_statuses_is_aligned(host: str, project: str) -> None:
    run = tracking.init(project=project)
    assert run is not None and run.end() is True
    _, rows = cli_statuses(host, project, run.run_uuid)
    message, transition = rows["succeeded"][3], rows["succeeded"][5]
    assert not re.match(r"\d{4}-\d\d-\d\d", message) and transition != ""


def test_failed_run_reads_back_as_failed(host: str, project: str) -> None:
    run = tracking.init(project=project, name="crashes")
    assert run is not None and run.end("failed", message="boom") is True

    out, rows = cli_statuses(host, project, run.run_uuid)
    assert "Latest status: failed" in out
    assert list(rows) == ["created", "running", "failed"]
    failed = rows["failed"]
    assert (failed[0], failed[2], failed[3]) == ("failed", "PolyaxonIntegrations", "boom")

    seen = official_read(host, project, run.run_uuid)
    assert (seen["status"], seen["latest"]) == ("failed", "failed")
    assert seen["conditions"][-1] == ["failed", "PolyaxonIntegrations", "boom"]


def test_attach_to_a_run_of_the_official_client(host: str, api: PolyaxonClient, project: str) -> None:
    api.create_project("default", project)  # the official client does not create missing projects
    made = []
    for _ in range(3):  # the official client does not retry the sandbox's stray HTTP 405s: its statuses can be lost
        uuid = official_python(host, OFFICIAL_RUN, project)
        made.append(uuid)
        assert re.fullmatch(r"[0-9a-f]{32}", uuid)
        if official_read(host, project, uuid)["status"] == "succeeded":
            break
    assert official_read(host, project, uuid)["status"] == "succeeded"

    run = tracking.init(project=project, run_uuid=uuid)
    assert run is not None and run.run_uuid == uuid and run.name == "official"
    assert run.run_data["inputs"] == {"a": 1}
    run.log_outputs(score=0.5)
    assert run.end() is True
    assert uuids(api, project) == set(made)  # attaching created no run of its own

    seen = official_read(host, project, uuid)
    assert (seen["name"], seen["inputs"], seen["outputs"]) == ("official", {"a": 1}, {"score": 0.5})
    assert (seen["status"], seen["latest"]) == ("succeeded", "succeeded")
