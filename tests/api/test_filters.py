"""Filters: a mailbox's ordered rules, created and changed through the API, read by agents.config."""

from __future__ import annotations

from agents import config

RULE = {
    "mailbox": "alice@example.com",
    "name": "Lists",
    "position": 10,
    "match": "all",
    "conditions": [{"field": "header", "header": "List-Id", "op": "contains", "value": "announce"}],
    "actions": [{"action": "fileinto", "folder": "Lists"}, {"action": "mark_read"}],
    "stop": True,
}


def test_create_filter_answers_201_and_agents_see_it(api, example_com):
    response = api.post("/api/v1/filters/", RULE, format="json")
    assert response.status_code == 201
    assert response.json()["mailbox"] == "alice@example.com"
    rules = config.filters_for("alice@example.com")
    assert [(r.name, r.stop, r.actions[0]["folder"]) for r in rules] == [("Lists", True, "Lists")]


def test_filters_run_in_position_order(api, example_com):
    api.post("/api/v1/filters/", {**RULE, "name": "second", "position": 20}, format="json")
    api.post("/api/v1/filters/", {**RULE, "name": "first", "position": 5}, format="json")
    assert [r.name for r in config.filters_for("alice@example.com")] == ["first", "second"]


def test_patch_moves_a_filter_to_another_mailbox(api, example_com):
    rule_id = api.post("/api/v1/filters/", RULE, format="json").json()["id"]
    response = api.patch(f"/api/v1/filters/{rule_id}/", {"mailbox": "bob@example.com"}, format="json")
    assert response.status_code == 200
    assert [r.name for r in config.filters_for("bob@example.com")] == ["Lists"]


def test_delete_filter_answers_204(api, example_com):
    rule_id = api.post("/api/v1/filters/", RULE, format="json").json()["id"]
    assert api.delete(f"/api/v1/filters/{rule_id}/").status_code == 204
    assert config.filters_for("alice@example.com") == []


def test_put_needs_the_required_fields(api, example_com):
    rule_id = api.post("/api/v1/filters/", RULE, format="json").json()["id"]
    response = api.put(f"/api/v1/filters/{rule_id}/", {"name": "renamed"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"mailbox", "actions"}
    full = {**RULE, "name": "renamed", "stop": False}
    assert api.put(f"/api/v1/filters/{rule_id}/", full, format="json").json()["name"] == "renamed"
