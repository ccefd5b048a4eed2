"""Runs logged with ``polyaxon_integrations.tracking`` as Polyaxon's own UI shows them, in a real browser.

Adding a run from an adapter is a few lines: train, build an :class:`ExpectedRun` from what was
logged, call :func:`check_run_in_ui` (see ``tests/ui/browser.py``).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.core.run import Run
from tests.conftest import ROOT
from tests.ui.browser import ExpectedRun, Point, UIPage, check_dashboard, check_run_in_ui, dashboard_url, run_url

pytestmark = [pytest.mark.server, pytest.mark.browser]

INPUTS: dict[str, Any] = {"lr": 0.1, "epochs": 60, "model": "linear", "layers": [1], "shuffle": True, "seed": 0}


def train(run: Run) -> tuple[dict[str, list[Point]], dict[str, Any]]:
    """Fit y = 3x + 2 by gradient descent; log the train loss every epoch and a validation loss every 10."""
    rng = random.Random(0)
    data = [(x, 3 * x + 2 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(64))]
    train_set, val_set = data[:48], data[48:]
    w = b = 0.0
    metrics: dict[str, list[Point]] = {"loss": [], "w": [], "val_loss": []}
    for epoch in range(INPUTS["epochs"]):
        grad_w = sum((w * x + b - y) * x for x, y in train_set) * 2 / len(train_set)
        grad_b = sum(w * x + b - y for x, y in train_set) * 2 / len(train_set)
        w, b = w - INPUTS["lr"] * grad_w, b - INPUTS["lr"] * grad_b
        loss = sum((w * x + b - y) ** 2 for x, y in train_set) / len(train_set)
        run.log_metrics(step=epoch, loss=loss, w=w)
        metrics["loss"].append((epoch, loss))
        metrics["w"].append((epoch, w))
        if epoch % 10 == 9:
            val_loss = sum((w * x + b - y) ** 2 for x, y in val_set) / len(val_set)
            run.log_metrics(step=epoch, val_loss=val_loss)
            metrics["val_loss"].append((epoch, val_loss))
    outputs: dict[str, Any] = {"w": round(w, 4), "b": round(b, 4)}
    run.log_outputs(**outputs)
    return metrics, outputs


def expected(run: Run, metrics: dict[str, list[Point]], outputs: dict[str, Any]) -> ExpectedRun:
    """Outputs show what the user logged, and the last value of every metric the user did not override."""
    summary = {name: points[-1][1] for name, points in metrics.items()}
    return ExpectedRun.of(run, inputs=INPUTS, outputs={**summary, **outputs}, metrics=metrics)


def test_online_run_in_the_ui(host: str, project: str, ui: UIPage, ui_out: Path) -> None:
    run = tracking.init(project=project, name="tracking-online", tags=["ui"])
    assert run is not None
    run.log_inputs(**INPUTS)
    metrics, outputs = train(run)
    run.end()
    assert run.url == run_url(host, expected(run, metrics, outputs))

    check = check_run_in_ui(ui, expected(run, metrics, outputs), ui_out)

    assert check.run_screenshot.stat().st_size > 10_000 and check.dashboard_screenshot.stat().st_size > 10_000
    assert ui.blocked == []


def test_offline_run_after_sync_in_the_ui(host: str, project: str, ui: UIPage, ui_out: Path) -> None:
    run = tracking.init(project=project, name="tracking-offline", is_offline=True)
    assert run is not None
    run.log_inputs(**INPUTS)
    metrics, outputs = train(run)
    run.end()
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    pushed = subprocess.run(
        [sys.executable, "-m", "polyaxon_integrations", "sync", run.get_artifacts_path()],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
        check=False,
    )
    assert pushed.returncode == 0, pushed.stderr
    want = expected(run, metrics, outputs)
    assert f"-> {run_url(host, want)}\n" in pushed.stdout, pushed.stdout

    check_run_in_ui(ui, want, ui_out)

    assert ui.blocked == []


def test_the_checks_can_fail(host: str, project: str, ui: UIPage, ui_out: Path) -> None:
    """A wrong x-axis, a missing point and a request to the internet are each caught."""
    run = tracking.init(project=project, name="tracking-checked")
    assert run is not None
    for step in range(5):
        run.log_metrics(step=10 + step, loss=1.0 / (step + 1))
    run.end()
    logged = [(10 + step, 1.0 / (step + 1)) for step in range(5)]
    right = ExpectedRun.of(run, inputs={}, outputs={}, metrics={"loss": logged})
    check_dashboard(ui, right, dashboard_url(host, right), ui_out / "right.png")
    with pytest.raises(AssertionError, match="x-axis shows Relative"):
        check_dashboard(ui, right, dashboard_url(host, right, xaxis="relative"), ui_out / "relative.png")
    more = ExpectedRun.of(run, inputs={}, outputs={}, metrics={"loss": [*logged, (15, 0.1)]})
    with pytest.raises(AssertionError, match="data request returned"):
        check_dashboard(ui, more, dashboard_url(host, more), ui_out / "more.png")
    assert ui.blocked == []
    ui.page.evaluate("() => fetch('http://192.0.2.1/track.js').catch(() => null)")
    assert ui.blocked == ["http://192.0.2.1/track.js"]
    ui.blocked.clear()
