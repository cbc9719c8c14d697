"""Playwright with Debian's Chromium, for the web tests (dashboard, webmail).

Use the ``page`` fixture (re-exported in tests/conftest.py) with pytest-django's
``live_server``. Screenshots go to ``test-artifacts/`` via ``screenshot(page, name)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One Chromium per test module.

    Playwright's sync API runs an event loop in this thread while it is open, so it
    must not outlive the module: later tests in the same process call
    ``asyncio.run()``, which refuses to start beside a running loop.
    """
    import os

    from playwright.sync_api import sync_playwright

    # Django's database calls would otherwise refuse to run beside that loop.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium) -> Iterator[object]:
    """A fresh browser context and page; console errors are collected on ``page.console_errors``."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    new_page.console_errors = errors  # type: ignore[attr-defined]
    yield new_page
    context.close()


def screenshot(page: object, name: str) -> Path:
    """Keep a screenshot as a test artefact (test-artifacts/<name>.png)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
