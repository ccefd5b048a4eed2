"""Issue 15 findings outside the mirror: values, paths, credentials in URLs, what sync reads from disk.

Each test is one finding of an adversarial user; the server ones run against the real sandbox.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import os
import stat
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from polyaxon_integrations import tracking
from polyaxon_integrations.client import ClientConfig, PolyaxonClient, RunClient
from polyaxon_integrations.core import folder as folder_mod
from polyaxon_integrations.core.exceptions import (
    ApiError,
    ConfigError,
    InvalidNameError,
    PolyaxonError,
    ServerUnreachableError,
)
from polyaxon_integrations.core.folder import ensure_offline_root, owned_by_us
from polyaxon_integrations.core.guard import PolyaxonWarning, warn_once
from polyaxon_integrations.core.names import ARTIFACT_KINDS, safe_relpath, validate_kind, validate_run_ids
from polyaxon_integrations.core.ui import mask_credentials, strip_credentials
from polyaxon_integrations.core.values import UnstorableValueError, storable, storable_dict
from tests.faults import PausableProxy, closed_port_host, fault_server, remount, tmpfs

UUID = "8aac02e3a62a4f0d9b5a4c3a2c1e0f9d"


# --- values the server can store ---------------------------------------------------------


class Color(enum.Enum):
    RED = "red"


def test_framework_scalars_nested_and_non_finite_become_plain_json() -> None:
    value = {
        "f32": np.float32(0.5),
        "i64": np.int64(3),
        "b": np.bool_(True),
        "zero_d": np.array(2.5),
        "array": np.arange(3),
        "tensor": torch.tensor(0.25),
        "tensor_1": torch.tensor([7]),
        "matrix": torch.ones(2, 2),
        "nested": {"deep": [np.float64("nan"), (float("inf"), -math.inf)], 1: "int key"},
        "when": dt.date(2026, 1, 2),
        "path": Path("/data/x"),
        "enum": Color.RED,
        "set": {3, 1},
        "str_": np.str_("s"),
    }
    out = storable(value)
    assert out == {
        "f32": 0.5,
        "i64": 3,
        "b": True,
        "zero_d": 2.5,
        "array": [0, 1, 2],
        "tensor": 0.25,
        "tensor_1": 7,
        "matrix": [[1.0, 1.0], [1.0, 1.0]],
        "nested": {"deep": ["NaN", ["Infinity", "-Infinity"]], "1": "int key"},
        "when": "2026-01-02",
        "path": "/data/x",
        "enum": "red",
        "set": [1, 3],
        "str_": "s",
    }
    # plain types only, strict JSON (the server's parser refuses NaN literals)
    json.dumps(out, allow_nan=False)
    assert type(out["f32"]) is float and type(out["i64"]) is int and type(out["b"]) is bool


def test_unencodable_value_is_an_error_naming_the_key() -> None:
    with pytest.raises(UnstorableValueError, match=r"inputs\['model'\].*object") as info:
        storable_dict({"lr": 0.1, "model": object()}, "inputs")
    assert isinstance(info.value, ValueError) and isinstance(info.value, PolyaxonError)
    with pytest.raises(UnstorableValueError, match=r"outputs\['x'\]\['raw'\]"):
        storable_dict({"x": {"raw": b"bytes"}}, "outputs")
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(UnstorableValueError, match="nested more than"):
        storable(cycle)


def test_odd_values_reach_the_server_and_later_points_follow(host: str, api: PolyaxonClient, project: str) -> None:
    """np.float32 inputs, NaN/inf outputs (a diverged run's best score) and tensors stop nothing."""
    run = tracking.init(project=project)
    assert run is not None
    run.log_inputs(lr=np.float32(1e-3), layers=np.array([64, 32]), opt={"beta": torch.tensor(0.9)})
    run.log_outputs(best=float("nan"), worst=float("inf"), low=-math.inf, acc=np.float64(0.5))
    for step in range(300):
        run.log_metrics(step=step, loss=1.0 / (step + 1), diverged=float("inf") if step == 299 else 0.0)
    with pytest.raises(UnstorableValueError, match="inputs\\['bad'\\]"):
        run.log_inputs(bad=object())
    assert run.end() is True
    data = api.get_run("default", project, run.run_uuid)
    assert data["status"] == "succeeded"
    assert data["inputs"] == {"lr": pytest.approx(1e-3), "layers": [64, 32], "opt": {"beta": pytest.approx(0.9)}}
    assert data["outputs"]["best"] == "NaN" and data["outputs"]["worst"] == "Infinity"
    assert data["outputs"]["low"] == "-Infinity" and data["outputs"]["acc"] == 0.5
    assert data["outputs"]["diverged"] == "Infinity"  # the metric's last value, copied at end()
    served = api.get_metrics("default", project, run.run_uuid, ["loss"])["loss"]
    assert served["step"] == list(range(300))
    local = json.loads((Path(run.get_artifacts_path()) / "run.plx.json").read_text())
    assert local["outputs"] == data["outputs"] and local["inputs"] == data["inputs"]


def test_run_client_converts_too(host: str, api: PolyaxonClient, project: str) -> None:
    client = RunClient(project=project, client=api)
    assert json.dumps(client.create(inputs={"lr": np.float32(0.25)}))  # encodes (the server ignores create inputs)
    client.log_inputs(lr=np.float32(0.25))
    client.log_outputs(loss=np.float64("nan"), steps=np.int64(3))
    client.log_inputs(layers=torch.tensor([1, 2]))
    data = api.get_run("default", project, str(client.run_uuid))
    assert data["inputs"] == {"lr": 0.25, "layers": [1, 2]} and data["outputs"] == {"loss": "NaN", "steps": 3}


def test_metrics_near_the_float_limit_do_not_stop_the_writer(host: str, api: PolyaxonClient, project: str) -> None:
    """A diverging loss passes 1e200 before it reaches inf: squaring it raised OverflowError in the writer."""
    run = tracking.init(project=project)
    assert run is not None
    values = [1e200, -1e200, 1.7e308, 1.7e308, 1e-300, float("nan"), 5.0, 10**400]
    for step, value in enumerate(values):
        run.log_metrics(step=step, loss=value)
        assert run.flush(10)
    for step in range(len(values), 300):
        run.log_metrics(step=step, loss=1.0)
    assert run.end() is True
    served = api.get_metrics("default", project, run.run_uuid, ["loss"])["loss"]
    assert served["step"] == list(range(300))
    summary = {e["name"]: e for e in api.get_lineage("default", project, run.run_uuid)}["loss"]["summary"]
    json.dumps(summary, allow_nan=False)
    assert summary["metric"]["max"] == 1.7e308 and summary["metric"]["count"] == 300


# --- paths cannot leave the run folder ---------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["../../x", "/etc/passwd", "a/../../b", "..", "run.plx.json", ".sync.plx.json", "", "a\\b", "x\x00y"]
)
def test_safe_relpath_refuses_escapes(bad: str) -> None:
    with pytest.raises(InvalidNameError):
        safe_relpath(bad)


def test_safe_relpath_normalises_harmless_forms() -> None:
    assert safe_relpath("a//./b/c.txt") == "a/b/c.txt"
    assert safe_relpath("assets/data/x.csv") == "assets/data/x.csv"


@pytest.mark.parametrize("bad", ["../x", "a/b", ".", "..", "", "a b", None, "checkpoint", "Model"])
def test_validate_kind_refuses_paths_and_kinds_the_server_refuses(bad: Any) -> None:
    with pytest.raises(InvalidNameError, match=r"the server accepts .*model"):
        validate_kind(bad)


def test_every_accepted_kind_is_accepted_by_the_server_lineage(host: str, api: PolyaxonClient, project: str) -> None:
    client = RunClient(project=project, client=api)
    client.create()
    entries = [
        {"name": f"a-{k}", "kind": validate_kind(k), "path": f"assets/{k}/x", "summary": {}} for k in ARTIFACT_KINDS
    ]
    api.create_lineage("default", project, str(client.run_uuid), entries)
    assert {e["kind"] for e in api.get_lineage("default", project, str(client.run_uuid))} == set(ARTIFACT_KINDS)
    with pytest.raises(ApiError) as refused:  # and what we refuse, the server refuses
        api.create_lineage("default", project, str(client.run_uuid), [{**entries[0], "kind": "checkpoint"}])
    assert refused.value.status_code == 400


def test_log_calls_cannot_write_outside_the_run_folder(tmp_path: Path) -> None:
    run = tracking.init(project="p", is_offline=True)
    assert run is not None
    source = tmp_path / "weights.bin"
    source.write_bytes(b"w" * 10)
    folder = Path(run.get_artifacts_path())
    outside = tmp_path / "escape"
    outside.mkdir()
    (folder / "link").symlink_to(outside)
    before = sorted(p.name for p in tmp_path.iterdir())
    bad_calls = [
        lambda: run.log_artifact(source, rel_path="../../x"),
        lambda: run.log_artifact(source, rel_path=str(tmp_path / "abs")),
        lambda: run.log_artifact(source, kind="../x"),
        lambda: run.log_artifact(source, kind="a/b"),
        lambda: run.log_artifact(source, rel_path="link/x"),  # through a symlink inside the folder
        lambda: run.log_artifact(source, rel_path="run.plx.json"),
        lambda: run.log_file("../x.txt", "x"),
        lambda: run.log_file("/tmp/x.txt", "x"),
        lambda: run.log_file("a/../../x.txt", "x"),
        lambda: run.log_file("ok.txt", "x", kind="../k"),
        lambda: run.log_model(source, name="../m"),
        lambda: run.log_model(source, name="a\\b", step=1),
    ]
    for call in bad_calls:
        with pytest.raises(ConfigError):
            call()
    # what is allowed still works and lands inside the folder
    assert run.log_artifact(source, rel_path="assets/data//./w.bin") == "assets/data/w.bin"
    assert run.log_model(source, name="net/v1", step=2) == "assets/model/net__v1_2.bin"
    assert run.end() is True
    assert (folder / "assets/data/w.bin").read_bytes() == b"w" * 10
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list(outside.iterdir()) == []


# --- credentials in a host URL -----------------------------------------------------------


def test_mask_and_strip_credentials() -> None:
    assert mask_credentials("GET http://user:pw@h:1/api failed") == "GET http://***@h:1/api failed"
    assert mask_credentials("https://tok@h and http://a:b@g/x") == "https://***@h and http://***@g/x"
    assert mask_credentials("mail me@example.com") == "mail me@example.com"
    assert strip_credentials("http://user:pw@h:1/ui/x") == "http://h:1/ui/x"


def test_credentials_in_the_host_are_never_printed(project: str, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """A server behind a proxy with basic auth (the CE sandbox itself refuses basic auth with 403)."""
    secret = "s3cr3t-pw"
    with fault_server(status=201) as server:
        server.body = {"uuid": UUID, "name": "r"}
        with_pw = server.host.replace("http://", f"http://alice:{secret}@")
        monkeypatch.setenv("POLYAXON_HOST", with_pw)
        config = ClientConfig(host=with_pw)
        assert secret not in repr(config)
        run = tracking.init(project=project)
        assert run is not None
        assert server.requests[0][2]["Authorization"].startswith("Basic ")  # the credentials are still used
        assert server.requests[0][1].endswith(f"/{project}/runs/sync")  # created under our own uuid
        assert run.url == f"{server.host}/ui/default/{project}/runs/{run.run_uuid}"
        run.log_metrics(step=0, loss=1.0)
        dashboard = run.dashboard_url()
        assert dashboard is not None and secret not in dashboard and "alice" not in dashboard
        assert secret not in repr(run)
        run.end(timeout=2)
        server.status = 404  # errors built from the host mask it too
        with pytest.raises(ApiError) as info:
            PolyaxonClient(config).get_run("default", project, UUID)
        assert secret not in str(info.value) and secret not in info.value.url
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_once("mask-test", f"could not reach {with_pw}")
    assert [str(w.message) for w in caught if issubclass(w.category, PolyaxonWarning)] == [
        f"could not reach {server.host.replace('http://', 'http://***@')}"
    ]
    # an unreachable host with credentials: the init warning masks them
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")
    monkeypatch.setenv("POLYAXON_HOST", closed_port_host().replace("http://", f"http://bob:{secret}@"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        local = tracking.init(project=project)
        assert local is not None
        local.end(timeout=0.5)
    assert caught and all(secret not in str(w.message) for w in caught)
    assert secret not in capsys.readouterr().err


# --- validators for what sync reads from disk -------------------------------------------


def test_validate_run_ids_accepts_slugs_and_hex() -> None:
    assert validate_run_ids("default", "my_proj-1", UUID) == ("default", "my_proj-1", UUID)


@pytest.mark.parametrize(
    ("owner", "project", "uuid"),
    [
        ("default", "p", "../../victim/runs/" + UUID),
        ("default", "p", UUID.upper()),
        ("default", "p", UUID[:31]),
        ("default", "p", "8aac02e3-a62a-4f0d-9b5a-4c3a2c1e0f9d"),
        ("default", "p", 123),
        ("..", "p", UUID),
        ("default", "victim/runs", UUID),
        ("default", "p?x=1", UUID),
        ("", "p", UUID),
        (None, "p", UUID),
        ("default", "p%2F..", UUID),
    ],
)
def test_validate_run_ids_refuses_anything_else(owner: Any, project: Any, uuid: Any) -> None:
    with pytest.raises(ConfigError, match=r"Refusing .* in /x/run\.plx\.json"):
        validate_run_ids(owner, project, uuid, source="/x/run.plx.json")


# --- the offline root: writable, ours, private ---------------------------------------------


def test_read_only_root_is_an_error_naming_the_variable_before_the_server_is_touched(
    tmp_path: Path, host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tmpfs(tmp_path / "ro") as root:
        remount(root, "ro")
        monkeypatch.setenv("POLYAXON_OFFLINE_ROOT", str(root))
        with pytest.raises(ConfigError, match=r"(?i)read-only file system.*POLYAXON_OFFLINE_ROOT"):
            tracking.init(project=project)
        with pytest.raises(ConfigError, match="POLYAXON_OFFLINE_ROOT"):
            tracking.init(project=project, is_offline=True)
    with pytest.raises(ApiError) as missing:  # nothing was created: not even the project
        api.get_project("default", project)
    assert missing.value.status_code == 404


def test_default_root_is_private_and_a_foreign_one_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    default = shared / "plx" / "offline"
    monkeypatch.setattr(folder_mod, "_DEFAULT_ROOT", default)
    monkeypatch.delenv("POLYAXON_OFFLINE_ROOT")
    run = tracking.init(project="p", is_offline=True)
    assert run is not None and run.end() is True
    assert Path(run.get_artifacts_path()).parent.parent == default
    assert stat.S_IMODE(default.stat().st_mode) == 0o700
    assert stat.S_IMODE(default.parent.stat().st_mode) == 0o700
    assert owned_by_us(default) and owned_by_us(run.get_artifacts_path())
    # an older version left it world-writable: it is made private again
    os.chmod(default, 0o777)
    ensure_offline_root()
    assert stat.S_IMODE(default.stat().st_mode) == 0o700
    # another user made the folder first: refused, not used blindly
    os.chown(default.parent, 4242, 4242)
    assert not owned_by_us(default.parent)
    with pytest.raises(ConfigError, match=r"belongs to another user.*POLYAXON_OFFLINE_ROOT"):
        tracking.init(project="p", is_offline=True)


def test_owned_by_us(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 4242, 4242)
    link_to_theirs = tmp_path / "link"
    link_to_theirs.symlink_to(theirs)
    assert owned_by_us(mine) and not owned_by_us(theirs)
    assert not owned_by_us(link_to_theirs) and not owned_by_us(tmp_path / "missing")


# --- a hung server ---------------------------------------------------------------------------


def test_hung_server_init_goes_local_within_5_s(monkeypatch: pytest.MonkeyPatch, project: str) -> None:
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")
    with fault_server(status=201, delay=60) as server:  # accepts TCP, never answers in time
        monkeypatch.setenv("POLYAXON_HOST", server.host)
        started = time.perf_counter()
        with pytest.warns(PolyaxonWarning, match="sync"):
            run = tracking.init(project=project)
        took = time.perf_counter() - started
        assert run is not None and took <= 5.0, took
        creates = [path for method, path, _ in server.requests if method == "POST" and path.endswith("/runs/sync")]
        assert 1 <= len(creates) <= 2  # init's one try (not the session's retries on top), then the mirror's
        run.log_metrics(step=0, loss=1.0)
        assert run.end(timeout=0.5) is False
    assert json.loads((Path(run.get_artifacts_path()) / ".sync.plx.json").read_text())["created"] is False


def test_hung_server_at_attach_fails_within_5_s(monkeypatch: pytest.MonkeyPatch, project: str) -> None:
    """Attaching needs the run's state from the server: still an error, but after the same bounded wait."""
    with fault_server(status=200, delay=60) as server:
        monkeypatch.setenv("POLYAXON_HOST", server.host)
        started = time.perf_counter()
        with pytest.raises(ServerUnreachableError, match="timed out"):
            tracking.init(project=project, run_uuid=UUID)
        assert time.perf_counter() - started <= 5.0
        assert len(server.requests) == 1


def _hung_then_recovering(sandbox: Any, api: PolyaxonClient, project: str, monkeypatch: Any, wait: bool) -> None:
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")
    with PausableProxy(sandbox.host, paused=True) as proxy:
        monkeypatch.setenv("POLYAXON_HOST", proxy.host)
        started = time.perf_counter()
        with pytest.warns(PolyaxonWarning):
            run = tracking.init(project=project, name="was-hung")
        assert run is not None and time.perf_counter() - started <= 5.0
        run.log_inputs(lr=np.float32(0.5))
        for step in range(200):
            run.log_metrics(step=step, loss=1.0 / (step + 1))
        proxy.resume()
        if wait:  # training goes on for a while after the server is back
            assert run.flush(60)
        assert run.end(timeout=60) is True
    data = api.get_run("default", project, run.run_uuid)
    assert data["status"] == "succeeded" and data["name"] == "was-hung" and data["inputs"] == {"lr": 0.5}
    served = [c["type"] for c in api.get_statuses("default", project, run.run_uuid)["status_conditions"]]
    assert served == ["created", "running", "succeeded"]
    assert api.get_metrics("default", project, run.run_uuid, ["loss"])["loss"]["step"] == list(range(200))
    assert [r["uuid"] for r in api.list_runs("default", project)] == [run.run_uuid]  # no orphan


def test_hung_server_then_recovering_gets_the_run_with_its_final_status(
    sandbox: Any, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hung_then_recovering(sandbox, api, project, monkeypatch, wait=True)


def test_hung_server_recovering_just_before_end_still_gets_the_final_status(
    sandbox: Any, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hung_then_recovering(sandbox, api, project, monkeypatch, wait=False)


def test_slow_server_at_init_leaves_no_orphan_run(
    sandbox: Any, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server creates the run but answers after ``init`` gave up: that run is the one we log to, no other."""
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_INIT_TIMEOUT", "1")
    api.create_project("default", project)
    with PausableProxy(sandbox.host) as proxy:
        proxy.answer_delay = 3.0  # each request reaches the server at once; its answer comes after init's 1 s
        monkeypatch.setenv("POLYAXON_HOST", proxy.host)
        with pytest.warns(PolyaxonWarning, match="sync"):
            run = tracking.init(project=project, name="was-slow")
        assert run is not None
        made = [r["uuid"] for r in api.list_runs("default", project)]
        assert made == [run.run_uuid]  # the server made it, under the uuid this run logs to
        proxy.answer_delay = 0.0
        for step in range(50):
            run.log_metrics(step=step, loss=1.0 / (step + 1))
        assert run.end(timeout=60) is True
    assert [r["uuid"] for r in api.list_runs("default", project)] == [run.run_uuid]  # adopted, not made twice
    served = [c["type"] for c in api.get_statuses("default", project, run.run_uuid)["status_conditions"]]
    assert served == ["created", "running", "succeeded"]
    assert api.get_metrics("default", project, run.run_uuid, ["loss"])["loss"]["step"] == list(range(50))
