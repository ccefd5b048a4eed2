"""The reconcile driven by a fake client: what is pending is derived, only 2xx answers move the record,
and an item the server refuses for good is set aside without stopping anything else."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from polyaxon_integrations.core.client import PolyaxonClient
from polyaxon_integrations.core.exceptions import ApiError, ServerUnreachableError
from polyaxon_integrations.core.reconcile import Reconciler, matched_statuses, merge_restored, scan_files
from polyaxon_integrations.core.record import Owner, Record
from polyaxon_integrations.core.state import RunState

UUID = "0123456789abcdef0123456789abcdef"


class FakeApi:
    """Records calls; ``refuse`` maps a predicate on (call, payload) to the HTTP code to answer."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.refuse: list[tuple[Any, int]] = []
        self.down = False
        self.runs: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.statuses: list[dict[str, Any]] = []

    def _call(self, name: str, payload: Any) -> None:
        if self.down:
            raise ServerUnreachableError("down", method="POST", url="x")
        for predicate, code in self.refuse:
            if predicate(name, payload):
                raise ApiError(f"HTTP {code}: refused {name}", status_code=code, method="POST", url="x")
        self.calls.append((name, payload))

    def sync_run(self, owner: str, project: str, body: dict[str, Any]) -> None:
        self._call("sync_run", body)
        if body["uuid"] in self.runs:
            raise ApiError("A run with uuid already exists.", status_code=400, method="POST", url="x")
        self.runs[body["uuid"]] = dict(body)
        self.statuses = list(body.get("status_conditions") or [])

    def ensure_project(self, owner: str, project: str) -> None:
        self._call("ensure_project", project)

    create_run_as = PolyaxonClient.create_run_as  # the real logic over this fake's requests
    _sync_new = PolyaxonClient._sync_new

    def get_run(self, owner: str, project: str, uuid: str) -> dict[str, Any]:
        self._call("get_run", uuid)
        if uuid not in self.runs:
            raise ApiError("No Run matches", status_code=404, method="GET", url="x")
        return self.runs[uuid]

    def get_statuses(self, owner: str, project: str, uuid: str) -> dict[str, Any]:
        self._call("get_statuses", uuid)
        return {"status": self.statuses[-1]["type"] if self.statuses else None, "status_conditions": self.statuses}

    def patch_run(self, owner: str, project: str, uuid: str, body: dict[str, Any]) -> None:
        self._call("patch_run", body)
        if uuid not in self.runs:
            raise ApiError("No Run matches", status_code=404, method="PATCH", url="x")

    def create_status(self, owner: str, project: str, uuid: str, condition: dict[str, Any], force: bool) -> None:
        self._call("create_status", (condition["type"], force))
        self.statuses.append(condition)

    def create_lineage(self, owner: str, project: str, uuid: str, entries: list[dict[str, Any]]) -> None:
        self._call("create_lineage", [e["name"] for e in entries])

    def upload_file(self, owner: str, project: str, uuid: str, path: Path, rel: str, size: int, progress: Any) -> int:
        self._call("upload_file", rel)
        self.files[rel] = path.read_bytes()[:size]
        return size

    def upload_tar(self, owner: str, project: str, uuid: str, tar: Any, rel_dir: str, progress: Any) -> int:
        self._call("upload_tar", rel_dir)
        return 1

    def list_dir(self, owner: str, project: str, uuid: str, rel_dir: str) -> dict[str, int]:
        self._call("list_dir", rel_dir)
        return {}


def make(tmp_path: Path, api: FakeApi, record: Record | None = None) -> tuple[Reconciler, RunState]:
    state = RunState(uuid=UUID, owner="default", project="p", name="r")
    state.set_status("created")
    state.set_status("running")
    return Reconciler(tmp_path, api, "default", "p", UUID, record or Record()), state  # type: ignore[arg-type]


def names(api: FakeApi) -> list[str]:
    return [name for name, _ in api.calls]


def test_a_new_run_is_created_whole_then_only_changes_are_sent(tmp_path: Path) -> None:
    api = FakeApi()
    rec, state = make(tmp_path, api)
    state.merge("inputs", {"lr": 0.1})
    assert not rec.step(state.to_json(), [])
    assert names(api) == ["sync_run"]  # fields and statuses came with the run
    assert rec.record.created and rec.record.owned and rec.record.statuses == 2
    api.calls.clear()
    assert not rec.step(state.to_json(), [])
    assert api.calls == []  # nothing pending: no request at all
    state.merge("inputs", {"lr": 0.1, "bs": 8})
    state.set_status("succeeded")
    assert not rec.step(state.to_json(), [])
    assert api.calls[0] == ("patch_run", {"inputs": {"bs": 8}, "merge": True})
    assert ("create_status", ("succeeded", False)) in api.calls


def test_a_refused_value_is_set_aside_and_the_rest_goes_on(tmp_path: Path) -> None:
    api = FakeApi()
    rec, state = make(tmp_path, api)
    rec.step(state.to_json(), [])
    api.refuse.append((lambda name, body: name == "patch_run" and "bad" in body.get("outputs", {}), 400))
    state.merge("outputs", {"bad": "x" * 10, "good": 1.5, "nan": float("nan")})
    state.set_status("succeeded")
    with pytest.warns(UserWarning, match="refused"):
        left = rec.step(state.to_json(), [{"name": "loss", "kind": "metric", "path": "events/metric/loss.plx"}])
    assert not left  # nothing pending: the refused values are set aside, the rest was confirmed
    assert rec.record.fields["outputs"] == {"good": 1.5}
    assert set(rec.record.rejected) == {"patch:outputs.bad", "patch:outputs.nan"}
    assert "cannot be encoded" in rec.record.rejected["patch:outputs.nan"]["answer"]
    assert ("create_status", ("succeeded", False)) in api.calls and ("create_lineage", ["loss"]) in api.calls
    # the same value is not retried; a changed one is
    api.calls.clear()
    assert not rec.plan(state.to_json(), [])
    state.merge("outputs", {"bad": "fixed"})
    assert rec.plan(state.to_json(), []).patch == [("outputs", "bad", "fixed")]


def test_a_refused_lineage_batch_is_split_until_the_refused_entry_is_alone(tmp_path: Path) -> None:
    api = FakeApi()
    rec, state = make(tmp_path, api)
    rec.step(state.to_json(), [])
    entries = [{"name": f"m{i}", "kind": "metric", "path": f"events/metric/m{i}.plx"} for i in range(450)]
    api.refuse.append((lambda name, batch: name == "create_lineage" and "m333" in batch, 400))
    with pytest.warns(UserWarning, match="lineage"):
        rec.step(state.to_json(), entries)
    sent = [n for name, batch in api.calls if name == "create_lineage" for n in batch]
    assert sorted(sent) == sorted(f"m{i}" for i in range(450) if i != 333)
    assert list(rec.record.rejected) == ["lineage:metric/m333"]
    assert max(len(batch) for name, batch in api.calls if name == "create_lineage") <= 200


def test_a_transient_failure_moves_nothing_and_the_next_step_sends_it(tmp_path: Path) -> None:
    api = FakeApi()
    rec, state = make(tmp_path, api)
    rec.step(state.to_json(), [])
    (tmp_path / "events" / "metric").mkdir(parents=True)
    (tmp_path / "events" / "metric" / "loss.plx").write_text("step|timestamp|metric\n0|t|1")
    state.set_status("succeeded")
    api.down = True
    with pytest.raises(ServerUnreachableError):
        rec.step(state.to_json(), [])
    saved = json.loads((tmp_path / ".sync.plx.json").read_text())
    assert saved["pending"] is True and saved["statuses"] == 2 and saved["files"] == {}
    api.down = False
    assert not rec.step(state.to_json(), [])
    assert api.files["events/metric/loss.plx"].endswith(b"0|t|1")
    # the record on disk alone (a new process, e.g. sync after kill -9) knows nothing is pending
    again, _ = make(tmp_path, FakeApi(), Record.load(tmp_path))
    assert not again.plan(state.to_json(), [])
    (tmp_path / "events" / "metric" / "loss.plx").write_text("step|timestamp|metric\n0|t|1\n1|t|2")
    assert list(again.plan(state.to_json(), []).files) == ["events/metric/loss.plx"]


def test_a_run_missing_on_the_server_is_created_again_with_everything(tmp_path: Path) -> None:
    api = FakeApi()
    rec, state = make(tmp_path, api, Record(created=True, seeded=True, statuses=2, fields={"name": "r"}))
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "a.txt").write_text("a")
    rec.record.files["outputs/a.txt"] = [1, (tmp_path / "outputs" / "a.txt").stat().st_mtime_ns]
    state.merge("inputs", {"lr": 1})
    assert not rec.step(state.to_json(), [])
    assert names(api)[:2] == ["patch_run", "sync_run"] and api.files == {"outputs/a.txt": b"a"}


def test_statuses_are_matched_in_order_and_a_done_run_is_reopened_with_force(tmp_path: Path) -> None:
    ours = [{"type": t} for t in ("created", "running", "succeeded", "running", "failed")]
    assert matched_statuses(ours, [{"type": t} for t in ("created", "running", "succeeded")]) == 3
    assert matched_statuses(ours, []) == 0
    api = FakeApi()
    api.runs[UUID] = {"uuid": UUID, "status": "succeeded"}
    rec, state = make(tmp_path, api, Record(created=True, seeded=True, statuses=2, server_status="succeeded"))
    state.set_status("failed")
    rec.step(state.to_json(), [])
    assert ("create_status", ("failed", True)) in api.calls  # force: the server has it as done


def test_links_are_never_uploaded_and_bookkeeping_is_not_an_artifact(tmp_path: Path) -> None:
    outside = tmp_path.parent / f"secret-{os.getpid()}"
    outside.write_text("secret")
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "link").symlink_to(outside)
    (tmp_path / "outputs" / "dirlink").symlink_to(tmp_path.parent)
    (tmp_path / "outputs" / "real.txt").write_text("ok")
    (tmp_path / "run.plx.json").write_text("{}")
    (tmp_path / ".sync.plx.json").write_text("{}")
    (tmp_path / "outputs" / ".x.tmp").write_text("partial")
    with pytest.warns(UserWarning, match="symbolic link"):
        assert list(scan_files(tmp_path)) == ["outputs/real.txt"]


def test_restored_files_put_the_servers_rows_first(tmp_path: Path) -> None:
    fetched, root = tmp_path / "fetched", tmp_path / "run"
    for base in (fetched, root):
        (base / "events" / "metric").mkdir(parents=True)
    (fetched / "events" / "metric" / "loss.plx").write_text("step|timestamp|metric\n0|t|0\n1|t|1")
    (fetched / "events" / "metric" / "only_theirs.plx").write_text("step|timestamp|metric\n0|t|5")
    (root / "events" / "metric" / "loss.plx").write_text("step|timestamp|metric\n2|t|2")
    record = Record()
    changed = merge_restored(fetched, root, record)
    assert sorted(changed) == ["events/metric/loss.plx", "events/metric/only_theirs.plx"]
    text = (root / "events" / "metric" / "loss.plx").read_text()
    assert text == "step|timestamp|metric\n0|t|0\n1|t|1\n2|t|2"
    assert record.files["events/metric/loss.plx"][1] == 0  # the merged file is pending, theirs is confirmed
    assert "events/metric/only_theirs.plx" in record.files


def test_the_record_distrusts_what_it_reads_and_knows_dead_processes(tmp_path: Path) -> None:
    (tmp_path / ".sync.plx.json").write_text(json.dumps({"version": 2, "files": "x", "statuses": -1, "fields": []}))
    record = Record.load(tmp_path)
    assert record.files == {} and record.statuses == 0 and record.fields == {}
    (tmp_path / ".sync.plx.json").write_text(json.dumps({"pending": False, "created_on_server": True}))
    assert Record.load(tmp_path).created is True and not Record.load(tmp_path).seeded  # the first format
    me = Owner.current()
    record = Record(owner={"pid": me.pid, "host": me.host, "start": me.start})
    assert not record.crashed() and not record.live_elsewhere()
    dead = Record(owner={"pid": 2**22 + 12345, "host": me.host, "start": "1"})
    assert dead.crashed() and not dead.live_elsewhere()
    elsewhere = Record(owner={"pid": 1, "host": "another-machine", "start": None})
    assert not elsewhere.crashed() and elsewhere.live_elsewhere()
