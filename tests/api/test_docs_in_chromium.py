"""The API docs pages work in a real browser with no internet: every request stays on this server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser import screenshot

pytestmark = pytest.mark.browser


def test_swagger_ui_renders_the_operations_from_this_server_only(live_server, page, transactional_db):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=20000)
    screenshot(page, "api-docs")
    assert "/api/v1/mailboxes/" in page.content()
    hosts = {urlsplit(url).netloc for url in requested if not url.startswith(("data:", "blob:"))}
    assert hosts == {urlsplit(live_server.url).netloc}
