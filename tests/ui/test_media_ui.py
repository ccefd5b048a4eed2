"""Polyaxon's own UI draws our rich events: images, histograms, curves, a confusion matrix, html, charts, a table,
audio and video, in one dashboard (``run.events_dashboard_url()``), in Debian's chromium, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Response

from polyaxon_integrations import tracking
from tests.core.rich_helpers import log_everything
from tests.ui.browser import WIDGETS, UIPage, save_screenshot

pytestmark = [pytest.mark.server, pytest.mark.browser]
pytest.importorskip("PIL")
pytest.importorskip("sklearn")


def test_rich_events_are_drawn_in_a_dashboard(
    host: str, project: str, ui: UIPage, ui_out: Path, tmp_path: Path
) -> None:
    run = tracking.init(project=project, name="rich-ui")
    assert run is not None
    want = log_everything(run, tmp_path)
    url = run.events_dashboard_url()
    assert url is not None and url.startswith(f"{run.url}/dashboards?dashboard=")
    assert run.end()
    sections: dict[str, list[str]] = {}  # a section per kind, in the order kinds were first logged
    for kind, name in run._rich_first_steps:
        sections.setdefault(kind, []).append(name)
    widgets = [(kind, name) for kind, names in sections.items() for name in names]  # the dashboard's order
    assert {k for k, _ in widgets} == {k for k, _ in want.events} - {"text"}

    page = ui.page
    requested: list[Response] = []
    page.on("response", lambda r: requested.append(r) if "/streams/v1/" in r.url else None)
    page.set_viewport_size({"width": 1400, "height": 7000})  # every widget in view: they render when seen
    page.goto(url)
    page.wait_for_function(
        "([selector, n]) => document.querySelectorAll(selector).length >= n", arg=[WIDGETS, len(widgets)], polling=250
    )
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)  # the last charts lay out
    save_screenshot(page, ui_out / "rich-dashboard.png")
    assert ui.server_errors == [] and ui.page_errors == [], (ui.server_errors, ui.page_errors)

    cards = page.locator(WIDGETS)
    assert cards.count() == len(widgets)
    card = {name: cards.nth(i) for i, (_, name) in enumerate(widgets)}
    for name, locator in card.items():
        assert name in locator.inner_text(), f"widget {name!r} does not show its name"

    fetched = {r.url.split("?")[0].rsplit("/", 1)[-1] for r in requested if "/events/" in r.url and r.ok}
    assert {k for k, _ in widgets} <= fetched, f"event kinds never fetched: {({k for k, _ in widgets}) - fetched}"
    assets = {_param(r.url, "path") for r in requested if "/artifact?" in r.url and r.ok}
    assert {p for p in want.assets if not p.endswith(".csv")} <= assets, sorted(assets)

    def natural(name: str) -> Any:
        return card[name].locator(f"img[alt='{name}']").evaluate("i => [i.naturalWidth, i.naturalHeight]")

    assert natural("sample") == [5, 4] and natural("photo") == [7, 3] and natural("boxes") == [16, 16]
    assert natural("mpl") == [100, 50]
    assert card["weights"].locator("g.point").count() == 20  # one bar per bin
    assert card["binned"].locator("g.point").count() == 3
    for name in ("roc", "pr", "custom", "sk_roc", "sk_pr"):
        assert card[name].locator("canvas").count() >= 1, f"curve {name} not drawn"
        assert card[name].locator(".uplot").count() == 1
    heatmap = card["confusion"].inner_text()
    assert all(label in heatmap for label in ("cat", "dog")), heatmap
    frames = card["report"].locator("iframe")
    shown = [card["report"].inner_text()] + [
        frames.nth(i).content_frame.locator("body").inner_text() for i in range(frames.count())
    ]
    assert any("Report" in text and "ok | fine" in text for text in shown), shown
    assert (
        card["report"].locator("h3").count()
        + sum(frames.nth(i).content_frame.locator("h3").count() for i in range(frames.count()))
        >= 1
    )  # drawn as HTML, not shown as text
    for name in ("plotly", "mpl_plotly"):
        assert card[name].locator(".js-plotly-plot g.scatterlayer .trace").count() == 1, name
    assert card["vega"].locator("svg, canvas").count() >= 1
    table = card["table"].inner_text()
    assert "y|z" in table and "x" in table
    assert card["tone"].locator("audio").count() == 1
    assert card["clip"].locator("video").count() == 1


def _param(url: str, key: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return (parse_qs(urlsplit(url).query).get(key) or [""])[0]
