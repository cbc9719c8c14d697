"""Input no client should send: NUL bytes, odd digits, huge keys, wrong JSON types. Always 4xx, never 500.

PostgreSQL refuses NUL in text, so these also run on the CI's PostgreSQL pass.
"""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/domains/%00/",
        "/api/v1/domains/a%00b.example/",
        "/api/v1/mailboxes/alice%00@example.com/",
        "/api/v1/aliases/@exa%00mple.com/",
        "/api/v1/domain-aliases/%00/",
        "/api/v1/filters/%00/",
        "/api/v1/queue/%00/",
        "/api/v1/agents/%00/",
        "/api/v1/domains/²/",
        "/api/v1/mailboxes/99999999999999999999999999/",
        "/api/v1/domains/" + "a" * 5000 + "/",
    ],
)
def test_hostile_detail_keys_are_404(api, example_com, path):
    assert api.get(path).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "domain=%00",
        "address=%00",
        "address=alice%00@example.com",
        "search=%00",
        "active=%00",
        "ordering=%00",
        "page=%00",
        "page_size=%00",
    ],
)
def test_hostile_list_queries_are_answered_without_a_server_error(api, example_com, query):
    assert api.get(f"/api/v1/mailboxes/?{query}").status_code in (200, 400, 404)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/domains/", {"name": "exa\x00mple.org"}),
        ("/api/v1/domains/", {"name": ["example.org"]}),
        ("/api/v1/domains/", {"name": "example.org", "default_quota": 10**30}),
        ("/api/v1/domain-aliases/", {"name": "example.org", "target": "example.com\x00"}),
        ("/api/v1/domain-aliases/", {"name": "example.org", "target": {"name": "example.com"}}),
        ("/api/v1/mailboxes/", {"address": "al\x00ice@example.com", "password": PASSWORD}),
        ("/api/v1/mailboxes/", {"address": "alice2@example.com", "password": "pw\x00pw"}),
        ("/api/v1/mailboxes/", {"address": "x" * 100000 + "@example.com", "password": "pw"}),
        ("/api/v1/aliases/", {"address": "team@example.com", "targets": "alice@example.com"}),
        ("/api/v1/aliases/", {"address": "team@example.com", "targets": [["alice@example.com"]]}),
        ("/api/v1/aliases/", {"address": "team@example.com", "targets": ["al\x00ice@example.com"]}),
        ("/api/v1/filters/", {"mailbox": "alice@example.com\x00", "name": "x", "actions": [{"action": "flag"}]}),
        ("/api/v1/filters/", {"mailbox": "alice@example.com", "name": "x", "actions": "flag"}),
        (
            "/api/v1/filters/",
            {"mailbox": "alice@example.com", "name": "x", "actions": [{"action": "fileinto", "folder": "a\x00"}]},
        ),
    ],
)
def test_hostile_bodies_are_400(api, example_com, path, body):
    response = api.post(path, body, format="json")
    assert response.status_code == 400, response.content


def test_deeply_nested_json_is_400(api, example_com):
    body = '{"name": "x", "conditions": ' + "[" * 50000 + "]" * 50000 + "}"
    response = api.generic("POST", "/api/v1/filters/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_nul_in_a_json_key_is_400(api, example_com):
    response = api.generic(
        "POST", "/api/v1/domains/", '{"na\\u0000me": "example.org"}', content_type="application/json"
    )
    assert response.status_code == 400
