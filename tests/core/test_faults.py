"""Faults mid-run: whatever the server does, training never waits on it and nothing logged is lost.

A local server creates the run, then misbehaves (500, hang, slow, reset); afterwards the
run folder is pushed with ``sync`` to the real sandbox and read back complete.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest

from polyaxon_integrations.client import PolyaxonClient
from tests.conftest import sync_cli
from tests.faults import run_then_fault

STEPS = 2000


@pytest.mark.parametrize(
    ("status", "delay"),
    [(500, 0.0), (503, 30.0), (200, 0.5), (0, 0.0), (401, 0.0)],
    ids=["500", "hang", "slow", "reset", "bad-token"],
)
def test_server_misbehaving_mid_run(
    monkeypatch: pytest.MonkeyPatch, host: str, api: PolyaxonClient, project: str, status: int, delay: float
) -> None:
    with run_then_fault(monkeypatch, project, status, delay, name="faulty") as run:
        run.log_inputs(lr=0.1)
        worst = 0.0
        started = time.perf_counter()
        for step in range(STEPS):
            t = time.perf_counter()
            run.log_metrics(step=step, loss=1.0 / (step + 1))
            worst = max(worst, time.perf_counter() - t)
            if step % 500 == 0:
                time.sleep(1.1)  # let the writer flush and the mirror try to upload meanwhile
        assert worst < 0.05, f"log_metrics waited {worst:.3f}s"
        assert time.perf_counter() - started < 10
        t = time.perf_counter()
        # A slow server may or may not get everything within the budget; a failing one never does, and says so.
        with pytest.warns(UserWarning) if status != 200 else contextlib.nullcontext():
            in_sync = run.end(timeout=2.0)
        assert time.perf_counter() - t < 4.0
        if status != 200:
            assert in_sync is False
    folder = Path(run.get_artifacts_path())
    rows = (folder / "events" / "metric" / "loss.plx").read_text().split("\n")[1:]
    assert len(rows) == STEPS
    # The server comes back (here: the real sandbox, which never saw the run): sync finishes the job.
    monkeypatch.setenv("POLYAXON_HOST", host)
    result = sync_cli(str(folder))
    assert result.returncode == 0, result.stderr
    data = api.get_run("default", project, run.run_uuid)
    assert data["status"] == "succeeded" and data["inputs"] == {"lr": 0.1}
    served = api.get_metrics("default", project, run.run_uuid, ["loss"])["loss"]
    assert served["step"] == list(range(STEPS))
    assert json.loads((folder / ".sync.plx.json").read_text())["pending"] is False


def test_an_impatient_end_still_keeps_every_point_locally(monkeypatch: pytest.MonkeyPatch, project: str) -> None:
    """``end(timeout=0)`` with the server gone gives up on the server at once, never on the local folder:
    everything logged is on disk for ``sync``."""
    from polyaxon_integrations import tracking
    from tests.faults import closed_port_host

    monkeypatch.setenv("POLYAXON_HOST", closed_port_host())
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")
    with pytest.warns(UserWarning):
        run = tracking.init(project=project)
    assert run is not None
    for step in range(20_000):
        run.log_metrics(step=step, loss=step / 7, acc=step / 9)
    started = time.perf_counter()
    assert run.end(timeout=0) is False
    assert time.perf_counter() - started < 10
    for name in ("loss", "acc"):
        rows = (Path(run.get_artifacts_path()) / "events" / "metric" / f"{name}.plx").read_text().split("\n")
        assert len(rows) == 1 + 20_000
    assert json.loads((Path(run.get_artifacts_path()) / ".sync.plx.json").read_text())["pending"] is True
