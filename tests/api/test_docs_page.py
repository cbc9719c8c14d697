"""The schema and its docs pages are served without any CDN (the appliance may have no internet)."""

from __future__ import annotations

import re


def test_docs_page_loads_its_scripts_from_this_server(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    scripts = re.findall(r'src="([^"]+)"', page)
    assert scripts and all(src.startswith("/static/") for src in scripts), scripts
    links = re.findall(r'href="([^"]+)"', page)
    assert all(link.startswith("/") and not link.startswith("//") for link in links), links
    # No address of another host anywhere (the page also carries a random CSRF token, so a plain
    # "cdn" substring test would fail now and then on the token's letters).
    assert not re.search(r'(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}', page, re.IGNORECASE), page


def test_schema_is_served_as_openapi_json(client, db):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "mailappliance provisioning API"


def test_browsable_api_root_lists_the_resources(api, db):
    body = api.get("/api/v1/", HTTP_ACCEPT="application/json").json()
    assert set(body) == {"domains", "domain-aliases", "mailboxes", "aliases", "filters", "queue", "agents"}
