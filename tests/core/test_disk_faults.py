"""Disk faults on a real small tmpfs: full, then space again; read-only, then writable again.

No tracking call raises OSError into training; a failed copy leaves nothing behind; when the
disk works again every row is written (no duplicates) and every event file has its header.
Skipped with the reason where the machine cannot mount a tmpfs (needs root).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.client import PolyaxonClient
from polyaxon_integrations.core.exceptions import ApiError, ConfigError
from polyaxon_integrations.core.guard import PolyaxonWarning
from polyaxon_integrations.core.lineage import copy_into
from polyaxon_integrations.core.writer import append_rows
from tests.faults import fill, remount, tmpfs


def _leftovers(folder: Path, wait: float = 3.0) -> list[str]:
    """Temporary files left behind. The mirror thread may be writing its record at the moment we look (a
    temporary file for a few milliseconds), so only one that is still there after ``wait`` s counts."""
    deadline = time.monotonic() + wait
    while True:
        found = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.endswith(".tmp"))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _check_events(folder: Path) -> dict[str, list[int]]:
    """Every non-empty .plx file starts with its header; the steps of each, in file order."""
    steps = {}
    for path in sorted((folder / "events" / "metric").glob("*.plx")):
        if path.stat().st_size == 0:
            continue
        lines = path.read_text().split("\n")
        assert lines[0] == "step|timestamp|metric", (path.name, lines[:2])
        steps[path.stem] = [int(line.split("|")[0]) for line in lines[1:]]
    return steps


def test_append_rows_is_all_or_nothing_and_heals_a_headerless_file(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", size="64k") as disk:
        path = disk / "events" / "metric" / "loss.plx"
        ballast = fill(disk)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()  # created while the disk is full: an empty file, no header
        with pytest.raises(OSError):
            append_rows(path, "\n0|t|1.0" * 10_000, "step|timestamp|metric")
        assert path.stat().st_size == 0  # cut back: no half row
        ballast.unlink()
        append_rows(path, "\n0|t|1.0", "step|timestamp|metric")
        append_rows(path, "\n1|t|2.0", "step|timestamp|metric")
        assert path.read_text() == "step|timestamp|metric\n0|t|1.0\n1|t|2.0"


def test_a_failed_copy_leaves_no_temporary_file(tmp_path: Path) -> None:
    big = tmp_path / "big.ckpt"
    big.write_bytes(b"\1" * (3 << 20))
    folder = tmp_path / "ckpts"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"\2" * (3 << 20))
    with tmpfs(tmp_path / "disk", size="2m") as disk:
        for source in (big, folder):
            with pytest.raises(OSError):
                copy_into(source, disk / "assets" / source.name)
            assert _leftovers(disk) == [] and not (disk / "assets" / source.name).exists()
            assert not [p for p in (disk / "assets").iterdir()]


def test_full_disk_then_space_again(
    tmp_path: Path, host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's scenario: a checkpoint too big for the disk, then a full disk, then space again."""
    with tmpfs(tmp_path / "disk", size="2m") as disk:
        monkeypatch.setenv("POLYAXON_OFFLINE_ROOT", str(disk / "offline"))
        checkpoint = tmp_path / "epoch1.ckpt"
        checkpoint.write_bytes(b"\3" * (3 << 20))  # bigger than the whole disk
        run = tracking.init(project=project)
        assert run is not None
        folder = Path(run.get_artifacts_path())
        for step in range(100):
            run.log_metrics(step=step, loss=1.0 / (step + 1))
        assert run.flush(30)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run.log_model(checkpoint, name="net", step=1)
            assert run.flush(30)
            assert _leftovers(folder) == []  # the failed copy took its half checkpoint with it
            ballast = fill(disk)  # now the disk is full for everything
            for step in range(100, 1100):
                run.log_metrics(step=step, loss=1.0 / (step + 1), acc=step / 1100)  # acc: created while full
            run.log_inputs(lr=0.1)
            run.log_outputs(best=0.5)
            run.log_tags(["full-disk"])
            run.log_text("note", "written while full", step=1)
            run.log_file("report.txt", "x" * 10_000)
            run.flush(5)  # not everything can be on disk, but nothing raised
            acc = folder / "events" / "metric" / "acc.plx"
            assert not acc.exists() or acc.stat().st_size == 0  # made empty while full: its header comes later
            assert _leftovers(folder) == []
            ballast.unlink()  # space again
            assert run.flush(60)
            steps = _check_events(folder)
            assert steps == {"loss": list(range(1100)), "acc": list(range(100, 1100))}
            assert run.end(timeout=60) is True
        messages = [str(w.message) for w in caught if issubclass(w.category, PolyaxonWarning)]
        assert any("epoch1.ckpt" in m and "No space left" in m for m in messages), messages  # named
        assert any("report.txt" in m for m in messages), messages
        local = json.loads((folder / "run.plx.json").read_text())
        assert local["status"] == "succeeded" and local["inputs"] == {"lr": 0.1}
        assert local["outputs"]["best"] == 0.5 and "full-disk" in local["tags"]
        assert _leftovers(folder) == []
        lineage = json.loads((folder / "lineages.plx.json").read_text())
        assert {e["name"] for e in lineage} >= {"loss", "acc", "note"}
    data = api.get_run("default", project, run.run_uuid)
    assert data["status"] == "succeeded" and data["inputs"] == {"lr": 0.1} and "full-disk" in data["tags"]
    served = api.get_metrics("default", project, run.run_uuid, ["loss", "acc"])
    assert served["loss"]["step"] == list(range(1100)) and served["acc"]["step"] == list(range(100, 1100))


def test_read_only_disk_mid_run_then_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with tmpfs(tmp_path / "disk", size="4m") as disk:
        monkeypatch.setenv("POLYAXON_OFFLINE_ROOT", str(disk / "offline"))
        run = tracking.init(project="p", is_offline=True)
        assert run is not None
        folder = Path(run.get_artifacts_path())
        run.log_metrics(step=0, loss=1.0)
        assert run.flush(10)
        remount(disk, "ro")
        try:
            for step in range(1, 500):
                run.log_metrics(step=step, loss=float(step), extra=1)
            run.log_inputs(a=1)
            run.log_outputs(b=2)
            run.log_tags("ro")
            source = tmp_path / "w.bin"
            source.write_bytes(b"w")
            run.log_artifact(source)
            run.flush(5)
        finally:
            remount(disk, "rw")
        assert run.flush(30)
        assert _check_events(folder) == {"loss": list(range(500)), "extra": list(range(1, 500))}
        assert run.end() is True
        local = json.loads((folder / "run.plx.json").read_text())
        assert local["status"] == "succeeded" and local["inputs"] == {"a": 1} and local["outputs"]["b"] == 2


def test_end_on_a_disk_that_stays_full_names_what_was_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with tmpfs(tmp_path / "disk", size="1m") as disk:
        monkeypatch.setenv("POLYAXON_OFFLINE_ROOT", str(disk / "offline"))
        run = tracking.init(project="p", is_offline=True)
        assert run is not None
        run.log_metrics(step=0, loss=1.0)
        assert run.flush(10)
        fill(disk)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for step in range(1, 5000):
                run.log_metrics(step=step, loss=float(step))
            run.end()  # no OSError
        messages = [str(w.message) for w in caught if issubclass(w.category, PolyaxonWarning)]
        assert any("row(s) of events/metric/loss.plx" in m and "not in the run" in m for m in messages), messages
        assert any("final state (succeeded)" in m for m in messages), messages


def test_full_disk_at_init_is_an_error_before_the_server_is_touched(
    tmp_path: Path, host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tmpfs(tmp_path / "disk", size="64k") as disk:
        (disk / "offline" / "runs").mkdir(parents=True)
        monkeypatch.setenv("POLYAXON_OFFLINE_ROOT", str(disk / "offline"))
        fill(disk)
        with pytest.raises(ConfigError, match=r"No space left on device\. Set POLYAXON_OFFLINE_ROOT"):
            tracking.init(project=project)
        assert sorted(p.name for p in (disk / "offline" / "runs").iterdir()) == []  # the probe is gone too
    with pytest.raises(ApiError) as missing:
        api.get_project("default", project)
    assert missing.value.status_code == 404


def test_the_servers_disk_full_for_an_upload_is_retried_not_set_aside(
    sandbox: object, host: str, api: PolyaxonClient, project: str, tmp_path: Path
) -> None:
    """The streams service answers 400 ("upload was unsuccessful") when it cannot store a file: a full disk
    under the run's folder in the server's own store. The file is sent again once there is room, byte-identical."""
    store = getattr(sandbox, "artifacts_store", None)
    log = getattr(sandbox, "log", None)
    if store is None or log is None or not Path(store).is_dir():
        pytest.skip("needs the sandbox's store folder and log")
    run = tracking.init(project=project)
    assert run is not None
    data = tmp_path / "weights.bin"
    data.write_bytes(bytes(range(256)) * (16 << 10))  # 4 MiB
    seen = Path(log).read_text(errors="replace").count("Bad Request: /streams/")
    with tmpfs(Path(store) / run.run_uuid, size="1m"):
        run.log_artifact(data, name="weights", kind="model")
        deadline = time.monotonic() + 30
        while Path(log).read_text(errors="replace").count("Bad Request: /streams/") == seen:
            assert time.monotonic() < deadline, "the upload never reached the server's full disk"
            time.sleep(0.1)
    assert run.end(timeout=60) is True
    assert (Path(store) / run.run_uuid / "assets" / "model" / "weights.bin").read_bytes() == data.read_bytes()
    record = json.loads((run.folder.path / ".sync.plx.json").read_text())
    assert record.get("rejected", {}) == {}
