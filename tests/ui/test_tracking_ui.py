"""Runs logged with ``polyaxon_integrations.tracking`` as Polyaxon's own UI shows them, in a real browser.

Adding a run from an adapter is a few lines: train, build an :class:`ExpectedRun` from what was
logged, call :func:`check_run_in_ui` (see ``tests/ui/browser.py``).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.core.run import Run
from tests.conftest import sync_cli
from tests.ui.browser import (
    ExpectedRun,
    Point,
    UIPage,
    check_dashboard,
    check_run_in_ui,
    check_run_page,
    dashboard_url,
    metrics_logged_locally,
    run_url,
    shows,
    ui_metric_name,
)

pytestmark = [pytest.mark.server, pytest.mark.browser]

INPUTS: dict[str, Any] = {"lr": 0.1, "epochs": 60, "model": "linear", "layers": [1], "shuffle": True, "seed": 0}


def train(run: Run) -> tuple[dict[str, list[Point]], dict[str, Any]]:
    """Fit y = 3x + 2 by gradient descent; log the train loss and w every epoch, a validation loss every 10."""
    rng = random.Random(0)
    data = [(x, 3 * x + 2 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(64))]
    train_set, val_set = data[:48], data[48:]
    w = b = 0.0
    metrics: dict[str, list[Point]] = {"train/loss": [], "w": [], "val/loss": []}
    for epoch in range(INPUTS["epochs"]):
        grad_w = sum((w * x + b - y) * x for x, y in train_set) * 2 / len(train_set)
        grad_b = sum(w * x + b - y for x, y in train_set) * 2 / len(train_set)
        w, b = w - INPUTS["lr"] * grad_w, b - INPUTS["lr"] * grad_b
        loss = sum((w * x + b - y) ** 2 for x, y in train_set) / len(train_set)
        run.log_metrics(step=epoch, w=w, **{"train/loss": loss})
        metrics["train/loss"].append((epoch, loss))
        metrics["w"].append((epoch, w))
        if epoch % 10 == 9:
            val_loss = sum((w * x + b - y) ** 2 for x, y in val_set) / len(val_set)
            run.log_metric("val/loss", val_loss, step=epoch)
            metrics["val/loss"].append((epoch, val_loss))
    outputs: dict[str, Any] = {"w": round(w, 4), "b": round(b, 4)}
    run.log_outputs(**outputs)
    return metrics, outputs


def expected(run: Run, metrics: dict[str, list[Point]], outputs: dict[str, Any]) -> ExpectedRun:
    """Outputs show what the user logged, and the last value of every metric the user did not override
    (under the name Polyaxon shows it by: ``train/loss`` is ``train__loss``)."""
    summary = {ui_metric_name(name): points[-1][1] for name, points in metrics.items()}
    return ExpectedRun.of(run, inputs=INPUTS, outputs={**summary, **outputs}, metrics=metrics)


def test_online_run_in_the_ui(host: str, project: str, ui: UIPage, ui_out: Path) -> None:
    run = tracking.init(project=project, name="tracking-online", tags=["ui"])
    assert run is not None
    run.log_inputs(**INPUTS)
    metrics, outputs = train(run)
    run.end()
    assert run.url == run_url(host, expected(run, metrics, outputs))
    assert run.dashboard_url() == dashboard_url(host, expected(run, metrics, outputs), sorted(metrics))
    assert metrics_logged_locally(run.get_artifacts_path()) == {ui_metric_name(k): v for k, v in metrics.items()}

    check = check_run_in_ui(ui, expected(run, metrics, outputs), ui_out)

    assert check.run_screenshot.stat().st_size > 10_000 and check.dashboard_screenshot.stat().st_size > 10_000
    assert ui.blocked == []


def test_offline_run_after_sync_in_the_ui(host: str, project: str, ui: UIPage, ui_out: Path) -> None:
    run = tracking.init(project=project, name="tracking-offline", is_offline=True)
    assert run is not None
    run.log_inputs(**INPUTS)
    metrics, outputs = train(run)
    run.end()
    pushed = sync_cli(run.get_artifacts_path())
    assert pushed.returncode == 0, pushed.stderr
    want = expected(run, metrics, outputs)
    assert f"-> {run_url(host, want)}\n" in pushed.stdout, pushed.stdout

    check_run_in_ui(ui, want, ui_out)

    assert ui.blocked == []


def test_the_checks_can_fail(host: str, project: str, ui: UIPage, ui_out: Path) -> None:
    """A wrong status, a wrong x-axis, a missing point and a request to the internet are each caught."""
    run = tracking.init(project=project, name="tracking-checked")
    assert run is not None
    run.log_inputs(lr=0.1)
    for step in range(5):
        run.log_metrics(step=10 + step, loss=1.0 / (step + 1))
    run.end(status="failed")
    logged = [(10 + step, 1.0 / (step + 1)) for step in range(5)]
    right = ExpectedRun.of(run, inputs={"lr": 0.1}, outputs={"loss": 0.2}, metrics={"loss": logged})
    with pytest.raises(AssertionError, match="status shown: failed"):
        check_run_page(ui, right, run_url(host, right), ui_out / "failed.png")
    check_dashboard(ui, right, dashboard_url(host, right), ui_out / "right.png")
    with pytest.raises(AssertionError, match="x-axis shows Relative"):
        check_dashboard(ui, right, dashboard_url(host, right, xaxis="relative"), ui_out / "relative.png")
    more = ExpectedRun.of(run, inputs={}, outputs={}, metrics={"loss": [*logged, (15, 0.1)]})
    with pytest.raises(AssertionError, match="data request returned 5 points for 6 logged"):
        check_dashboard(ui, more, dashboard_url(host, more), ui_out / "more.png")
    assert ui.blocked == []
    ui.page.evaluate("() => fetch('http://192.0.2.1/track.js').catch(() => null)")
    assert ui.blocked == ["http://192.0.2.1/track.js"]
    ui.blocked.clear()


@pytest.mark.parametrize(
    ("cell", "value", "shown"),
    [
        ("0.0003", 3e-4, True),
        ("1", 1.0, True),
        ("1e+22", 1e22, True),
        ("0.00001", 1e-5, True),
        ("[1,2,3]", [1, 2, 3], True),
        ('{"a":1,"b":"x"}', {"a": 1, "b": "x"}, True),
        ("true", True, True),
        ("", None, True),
        ("8", "8", True),
        ("1", True, False),
        ("true", 1, False),
        ("0.01", 0.02, False),
        ("adam", "sgd", False),
        ("[1,2]", [1, 2, 3], False),
    ],
)
def test_table_cells_are_read_as_the_ui_prints_them(cell: str, value: object, shown: bool) -> None:
    assert shows(cell, value) is shown
