"""Drive Polyaxon's own web UI with a real browser, offline: what our users see is what we check.

Playwright drives Debian's ``/usr/bin/chromium`` (never a browser of Playwright's own). Every
request that is not to the local server is aborted and counted, so a page that needs the internet
fails the test instead of hanging or silently degrading. The sandbox must serve the UI with
``POLYAXON_UI_IN_SANDBOX`` and ``POLYAXON_UI_OFFLINE`` on (``scripts/sandbox.py`` does).

A run from an adapter, in a test under ``tests/ui`` (fixtures ``ui`` and ``ui_out`` in its conftest)::

    def test_lightning_run_in_the_ui(host: str, project: str, ui: UIPage, ui_out: Path) -> None:
        run = ...  # train with the adapter; end the run
        metrics = metrics_logged_locally(run.get_artifacts_path())  # after checking it against training
        want = ExpectedRun.of(run, inputs={"lr": 0.01}, outputs={"val_loss": ...}, metrics=metrics, exact=False)
        check_run_in_ui(ui, want, ui_out)

``check_run_in_ui`` opens the run page (name, status ``succeeded``, every Inputs/Outputs row) and a
dashboard of the metrics with step on the x-axis (``?dashboard=`` is base64 of the UI's JSON), checks
that the charts' data requests return every point, hovers each chart's ends, and saves both screenshots.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import (
    Browser,
    Page,
    Request,
    Response,
    Route,
    ViewportSize,
    WebSocketRoute,
    expect,
    sync_playwright,
)

from polyaxon_integrations.core import ui as ui_links

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}
TIMEOUT_MS = 20_000
# The UI asks the streams API for at most this many points per metric (``sample=1000``).
UI_SAMPLE = 1000

Point = tuple[int, float]


class RunLike(Protocol):
    @property
    def owner(self) -> str: ...
    @property
    def project(self) -> str: ...
    @property
    def run_uuid(self) -> str: ...
    @property
    def name(self) -> str | None: ...


@dataclass(frozen=True)
class ExpectedRun:
    """What a run's pages must show: written by the test from what it logged, not read from the server."""

    owner: str
    project: str
    uuid: str
    name: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    metrics: Mapping[str, Sequence[Point]]
    # exact: the tables hold these rows and no others; else these rows at least (adapters that
    # log dozens of framework defaults list only the ones they care about).
    exact: bool = True
    label: str = "run"

    @classmethod
    def of(
        cls,
        run: RunLike,
        inputs: Mapping[str, Any],
        outputs: Mapping[str, Any],
        metrics: Mapping[str, Sequence[Point]],
        exact: bool = True,
        label: str | None = None,
    ) -> ExpectedRun:
        assert run.name, "give the run a name: the run page must show it"
        return cls(
            owner=run.owner,
            project=run.project,
            uuid=run.run_uuid,
            name=run.name,
            inputs=inputs,
            outputs=outputs,
            metrics=metrics,
            exact=exact,
            label=label or re.sub(r"[^A-Za-z0-9_.-]+", "-", run.name),
        )


@dataclass
class UIPage:
    """A browser tab on the local server; ``blocked`` lists every request that tried to leave it."""

    page: Page
    host: str
    blocked: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def is_local(self, url: str) -> bool:
        return url.startswith((f"{self.host}/", "data:", "blob:")) or url == self.host


@dataclass(frozen=True)
class UICheck:
    run_url: str
    dashboard_url: str
    run_screenshot: Path
    dashboard_screenshot: Path
    served: dict[str, list[Point]]


@contextmanager
def browser_session(home: Path | None = None) -> Iterator[Browser]:
    """Playwright's driver and one headless Debian chromium, for as long as the block lasts."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)")
    environ: dict[str, str | float | bool] = dict(os.environ)
    if home is not None:
        environ["HOME"] = str(home)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS), env=environ
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(browser: Browser, host: str) -> Iterator[UIPage]:
    """A fresh context and tab where everything not addressed to ``host`` is aborted and recorded."""
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    ui = UIPage(page=page, host=host.rstrip("/"))

    def on_route(route: Route) -> None:
        if ui.is_local(route.request.url):
            route.continue_()
        else:
            ui.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    def on_websocket(ws: WebSocketRoute) -> None:
        if ui.is_local(ws.url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)):
            ws.connect_to_server()
        else:
            ui.blocked.append(ws.url)
            ws.close()

    def on_response(response: Response) -> None:
        if response.status >= 400:
            ui.server_errors.append(f"{response.status} {response.request.method} {response.url}")

    context.route("**/*", on_route)
    context.route_web_socket(re.compile(".*"), on_websocket)
    page.on("response", on_response)
    page.on("pageerror", lambda error: ui.page_errors.append(str(error)))
    try:
        yield ui
    finally:
        context.close()


def ui_metric_name(name: str) -> str:
    """The name Polyaxon stores and shows a metric under: ``"train/loss"`` is ``train__loss`` (the official mapping)."""
    return re.sub(r"\s+", "-", name.strip()).replace("/", "__")


def metrics_logged_locally(run_folder: str | Path) -> dict[str, list[Point]]:
    """The stepped points in a run folder's ``events/metric/*.plx``, by the name the UI shows.

    For adapter tests, whose framework decides what is logged: the client's own record, to hold the
    UI to (check its length and a few values against the training first).
    """
    metrics: dict[str, list[Point]] = {}
    for path in sorted((Path(run_folder) / "events" / "metric").glob("*.plx")):
        header, *rows = path.read_text().strip("\n").split("\n")
        columns = header.split("|")
        step_at, value_at = columns.index("step"), columns.index("metric")
        cells = [row.split("|") for row in rows]
        metrics[path.stem] = [(int(c[step_at]), float(c[value_at])) for c in cells if c[step_at] != ""]
    return metrics


def run_url(host: str, run: ExpectedRun) -> str:
    return ui_links.run_url(host, run.owner, run.project, run.uuid)


def dashboard_url(host: str, run: ExpectedRun, metrics: Sequence[str] | None = None, xaxis: str = "step") -> str:
    """The run's dashboards tab with ``?dashboard=`` (the package's own link: the one the demo prints)."""
    names = [ui_metric_name(name) for name in (metrics if metrics is not None else run.metrics)]
    return ui_links.dashboard_url(run_url(host, run), names, xaxis)


def check_run_in_ui(ui: UIPage, run: ExpectedRun, out_dir: Path) -> UICheck:
    """Open the run's page and a dashboard of its metrics; assert what they show; save both screenshots."""
    out_dir.mkdir(parents=True, exist_ok=True)
    url = run_url(ui.host, run)
    run_png = check_run_page(ui, run, url, out_dir / f"{run.label}-run.png")
    dash = dashboard_url(ui.host, run)
    served, dash_png = check_dashboard(ui, run, dash, out_dir / f"{run.label}-dashboard.png")
    assert ui.server_errors == [], f"the server answered the UI with errors: {ui.server_errors}"
    assert ui.blocked == [], f"the UI tried to leave the machine: {ui.blocked}"
    print(f"UI screenshots of {run.name}: {run_png} {dash_png}")
    return UICheck(url, dash, run_png, dash_png, served)


def save_screenshot(page: Page, path: Path) -> None:
    """The whole page: the UI scrolls inside its own panes, so grow the window to fit them first."""
    hidden = page.evaluate(
        "() => Math.max(0, ...Array.from(document.querySelectorAll('*')).map(e => e.scrollHeight - e.clientHeight))"
    )
    size = page.viewport_size or VIEWPORT
    page.set_viewport_size({"width": size["width"], "height": min(size["height"] + int(hidden), 8000)})
    page.wait_for_timeout(300)  # let the charts re-lay out
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size(size)


# -- the run page ---------------------------------------------------------------------------------


def check_run_page(ui: UIPage, run: ExpectedRun, url: str, screenshot: Path) -> Path:
    page = ui.page
    page.goto(url)
    page.locator("table").nth(max(0, bool(run.inputs) + bool(run.outputs) - 1)).wait_for()
    page.wait_for_load_state("networkidle")
    save_screenshot(page, screenshot)  # first, so that a failing check still leaves the picture
    body = page.inner_text("body")
    assert f"{run.name} (Job @ {run.uuid[:9]}" in body, f"the run page does not name {run.name!r}:\n{body[:600]}"
    status = re.search(r"\bStatus\s*\n\s*(\S+)", body)
    assert status is not None and status.group(1) == "succeeded", f"status shown: {status and status.group(1)}"
    tables = read_tables(page)
    for title, expected in (("Inputs", run.inputs), ("Outputs", run.outputs)):
        shown = tables.get(title, {})
        for key, value in expected.items():
            assert key in shown, f"{title}: {key!r} is not displayed (shown: {sorted(shown)})"
            assert shows(shown[key], value), f"{title}: {key} shows {shown[key]!r}, logged {value!r}"
        if run.exact:
            assert set(shown) == set(expected), f"{title}: extra rows {sorted(set(shown) - set(expected))}"
    return screenshot


def read_tables(page: Page) -> dict[str, dict[str, str]]:
    """Every row of the Inputs and Outputs tables, paging through them as a user would."""
    tables: dict[str, dict[str, str]] = {}
    for index in range(page.locator("table").count()):
        table = page.locator("table").nth(index)
        title = table.evaluate(
            """t => { for (let e = t.parentElement; e; e = e.parentElement) {
                 const m = (e.innerText || '').trim().match(/^(Inputs|Outputs)\\b/); if (m) return m[1]; }
               return null; }"""
        )
        table_id = table.get_attribute("id")
        if title is None or table_id is None:
            continue
        summary = table.locator(f"xpath=ancestor::div[.//*[@aria-controls='{table_id}']][1]")
        total = _total_rows(summary.inner_text())
        rows: dict[str, str] = {}
        for _ in range(100):
            for cells in table.locator("tbody tr").evaluate_all(
                "rows => rows.map(r => Array.from(r.querySelectorAll('td')).map(c => c.innerText.trim()))"
            ):
                if len(cells) == 2:
                    rows[cells[0]] = cells[1]
            following = page.locator(f"a[data-test-subj=pagination-button-next][aria-controls='{table_id}']")
            if following.count() == 0:
                break
            first = table.locator("tbody tr").first.inner_text()
            following.click()
            page.wait_for_function(
                "([id, first]) => document.getElementById(id).querySelector('tbody tr').innerText !== first",
                arg=[table_id, first],
            )
        assert total is None or len(rows) == total, f"{title}: read {len(rows)} rows, the table says {total}"
        tables[title] = rows
    return tables


def _total_rows(text: str) -> int | None:
    found = re.search(r"rows out of (\d+) rows", text)
    return int(found.group(1)) if found else None


def shows(cell: str, value: Any) -> bool:
    """Whether a table cell displays ``value`` (JSON: ``[1,2]``, ``1e+22``, ``true``; None is blank)."""
    if value is None:
        return cell in ("", "null")
    if isinstance(value, str):
        return cell == value
    try:
        return bool(_canonical(json.loads(cell)) == _canonical(value))
    except ValueError:
        return False


def _canonical(value: Any) -> Any:
    """Numbers as floats (the UI prints ``1`` for ``1.0``), booleans kept apart from numbers."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return ("other", repr(value))


WIDGETS = "[data-rfd-draggable-id^='widget-']"

# -- the dashboard ------------------------------------------------------------------------------


def check_dashboard(ui: UIPage, run: ExpectedRun, url: str, screenshot: Path) -> tuple[dict[str, list[Point]], Path]:
    """Open the dashboard; the chart's data requests return every logged point; charts plot by step."""
    page = ui.page
    for name, points in run.metrics.items():
        assert 0 < len(points) <= UI_SAMPLE, f"{name}: the UI samples {UI_SAMPLE} points; log fewer to check all"
    responses: list[Response] = []
    prefix = f"{ui.host}/streams/v1/polyaxon/{run.owner}/{run.project}/runs/{run.uuid}/events/metric?"

    def on_request_finished(request: Request) -> None:
        if request.url.startswith(prefix):
            response = request.response()
            if response is not None:
                responses.append(response)

    page.on("requestfinished", on_request_finished)
    try:
        page.goto(url)
        wanted = {ui_metric_name(name) for name in run.metrics}
        page.locator(WIDGETS).first.wait_for()
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while wanted - _requested(responses) and time.monotonic() < deadline:
            # Widgets below the fold are rendered (and ask for their data) once the page is scrolled to them.
            page.evaluate("() => document.querySelectorAll('.puiPageBody').forEach(b => { b.scrollTop += 600; })")
            page.wait_for_timeout(100)
        page.evaluate("() => document.querySelectorAll('.puiPageBody').forEach(b => { b.scrollTop = 0; })")
        missing = wanted - _requested(responses)
        assert not missing, f"the dashboard never asked for {sorted(missing)}"
        page.wait_for_load_state("networkidle")
    finally:
        page.remove_listener("requestfinished", on_request_finished)
    try:
        expect(page.locator(f"{WIDGETS} .uplot")).to_have_count(len(run.metrics))
    except AssertionError:
        pass  # check_charts says what is missing, after the screenshot
    save_screenshot(page, screenshot)
    assert page.url == url, f"the UI rewrote the dashboard URL: {page.url}"
    served: dict[str, list[Point]] = {}
    for response in responses:
        assert response.ok, f"{response.status} {response.url}"
        for item in response.json()["data"]:
            served.setdefault(item["name"], list(zip(item["data"]["step"], item["data"]["metric"], strict=True)))
    for name, points in run.metrics.items():
        got, logged = served.get(ui_metric_name(name), []), [(step, value) for step, value in points]
        assert got == logged, f"{name}: the chart's data request returned {_diff(got, logged)}"
    check_charts(page, run)
    return served, screenshot


def _hover(page: Page, x: float, y: float, pattern: re.Pattern[str]) -> re.Match[str] | None:
    """Hover (x, y) and read the tooltip that ``pattern`` recognizes; hover again if none shows up."""
    tooltips = page.locator("div.pointer-events-none:visible")
    for _ in range(3):
        page.mouse.move(0, 0)  # off every chart: no tooltip left over from the last hover
        expect(tooltips).to_have_count(0)
        page.mouse.move(x, y, steps=4)
        for _ in range(10):
            found = next(filter(None, map(pattern.search, tooltips.all_inner_texts())), None)
            if found:
                return found
            page.wait_for_timeout(100)
    return None


def _diff(got: list[Point], logged: list[Point]) -> str:
    pairs = enumerate(zip(got, logged, strict=False))
    first = next((i for i, (mine, theirs) in pairs if mine != theirs), min(len(got), len(logged)))
    return (
        f"{len(got)} points for {len(logged)} logged; first difference at #{first}: "
        f"{got[first : first + 3]} vs {logged[first : first + 3]}"
    )


def _requested(responses: list[Response]) -> set[str]:
    names: set[str] = set()
    for response in responses:
        for value in parse_qs(urlsplit(response.url).query).get("names", []):
            names.update(value.split(","))
    return names


def check_charts(page: Page, run: ExpectedRun) -> None:
    """Each metric has its chart, titled with its name; hovering its ends shows the first and last logged
    (step, value): the x-axis is the step, and the line is drawn from our points."""
    widgets = page.locator(WIDGETS)
    titles = widgets.evaluate_all("ws => ws.map(w => w.innerText.trim().split('\\n')[0])")
    names = {ui_metric_name(name): points for name, points in run.metrics.items()}
    assert sorted(titles) == sorted(names), f"charts {titles} for metrics {list(names)}"
    # uPlot's tooltips: the hovered chart's is portaled to the body, the cursor-synced ones stay in their panels.
    tooltips = page.locator("div.pointer-events-none:visible")
    for name, points in names.items():
        chart = widgets.nth(titles.index(name)).locator(".uplot")
        chart.scroll_into_view_if_needed()
        box = chart.locator(".u-over").bounding_box()
        assert box is not None, f"{name}: chart not laid out"
        pattern = re.compile(rf"(\w+): (\S+)\s*\n\s*Name\s+Value\s*\n\s*{re.escape(name)}\t(\S+)")
        logged = dict(points)
        # Hovering a pixel shows the nearest point: with more points than pixels, "the end" is a few points wide.
        slack = math.ceil(3 * len(points) / box["width"])
        for x, ends in ((box["x"] + 1, points[: slack + 1]), (box["x"] + box["width"] - 1, points[-slack - 1 :])):
            found = _hover(page, x, box["y"] + box["height"] / 2, pattern)
            assert found is not None, f"{name}: no tooltip on hover: {tooltips.all_inner_texts()}"
            axis, x_shown, y_shown = found.groups()
            wanted = [str(step) for step, _ in ends]
            assert axis == "Step" and x_shown in wanted, f"{name}: x-axis shows {axis} {x_shown}, not Step {wanted}"
            value = logged[int(x_shown)]
            assert math.isclose(float(y_shown), value, rel_tol=1e-6, abs_tol=1e-12), (
                f"{name}: the chart shows {y_shown} at step {x_shown}, logged {value}"
            )
    page.mouse.move(0, 0)
