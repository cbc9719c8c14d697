"""List endpoints: pagination, filters (domain, address, active) and search."""

from __future__ import annotations

from webadmin import services


def addresses(response) -> list[str]:
    return [item["address"] for item in response.json()["results"]]


def test_lists_are_paginated(api, example_com):
    first = api.get("/api/v1/mailboxes/?page_size=2").json()
    assert (first["count"], len(first["results"])) == (3, 2)
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None


def test_a_page_past_the_end_is_404(api, example_com):
    assert api.get("/api/v1/mailboxes/?page=99").status_code == 404


def test_filter_mailboxes_by_domain(api, example_com, make_mailbox):
    make_mailbox("carol@example.net")
    assert addresses(api.get("/api/v1/mailboxes/?domain=example.net")) == ["admin@example.net", "carol@example.net"]


def test_filter_mailboxes_by_address_in_any_case(api, example_com):
    assert addresses(api.get("/api/v1/mailboxes/?address=ALICE@Example.com")) == ["alice@example.com"]


def test_filter_mailboxes_by_active(api, example_com):
    api.patch("/api/v1/mailboxes/bob@example.com/", {"active": False}, format="json")
    assert addresses(api.get("/api/v1/mailboxes/?active=false")) == ["bob@example.com"]


def test_search_mailboxes_by_display_name(api, example_com):
    assert addresses(api.get("/api/v1/mailboxes/?search=Alice")) == ["alice@example.com"]


def test_ordering_mailboxes(api, example_com):
    assert addresses(api.get("/api/v1/mailboxes/?ordering=-local_part")) == [
        "bob@example.com",
        "alice@example.com",
        "admin@example.com",
    ]


def test_filter_aliases_by_catchall_and_address(api, example_com):
    services.create_alias("@example.com", ["alice@example.com"])
    assert addresses(api.get("/api/v1/aliases/?catchall=true")) == ["@example.com"]
    assert addresses(api.get("/api/v1/aliases/?address=abuse@example.com")) == ["abuse@example.com"]


def test_filter_filters_by_mailbox(api, example_com):
    rule = {"name": "r", "actions": [{"action": "flag"}]}
    api.post("/api/v1/filters/", {**rule, "mailbox": "alice@example.com"}, format="json")
    api.post("/api/v1/filters/", {**rule, "mailbox": "bob@example.com"}, format="json")
    results = api.get("/api/v1/filters/?mailbox=bob@example.com").json()["results"]
    assert [r["mailbox"] for r in results] == ["bob@example.com"]


def test_filter_domains_by_unicode_name(api, make_domain):
    make_domain("bücher.example")
    make_domain("example.com")
    names = [d["name"] for d in api.get("/api/v1/domains/?name=BÜCHER.example").json()["results"]]
    assert names == ["xn--bcher-kva.example"]


def test_a_bad_filter_value_is_400(api, example_com):
    response = api.get("/api/v1/queue/?state=lost")
    assert response.status_code == 400
    assert "state" in response.json()
