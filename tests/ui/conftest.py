"""Fixtures for the browser tests: one chromium for the ``tests/ui`` package, a guarded tab per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.ui.browser import CHROMIUM, UIPage, browser_session, open_page


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Polyaxon's web UI in Debian's chromium (Playwright)")


@pytest.fixture(scope="package")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Headless Debian chromium; ``SKIP_CHROMIUM`` (the setup's switch) skips when it is not installed."""
    if not CHROMIUM.exists() and os.environ.get("SKIP_CHROMIUM"):
        pytest.skip(f"{CHROMIUM} not installed (SKIP_CHROMIUM is set)")
    with browser_session(home=tmp_path_factory.mktemp("chromium-home")) as launched:
        yield launched


@pytest.fixture
def ui(browser: Browser, host: str) -> Iterator[UIPage]:
    """A fresh tab on the sandbox; fails the test if anything tried to reach another address."""
    with open_page(browser, host) as page:
        yield page
    assert page.blocked == [], f"requests that tried to leave the machine: {page.blocked}"


@pytest.fixture
def ui_out(tmp_path: Path) -> Path:
    """Where a test saves its screenshots (kept by pytest with the test's temporary folder)."""
    folder = tmp_path / "ui"
    folder.mkdir()
    return folder
