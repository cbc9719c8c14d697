"""Aliases: multi-target, catch-all, discard; found by address; targets changed with PATCH."""

from __future__ import annotations

from agents import config
from webadmin.models import Alias


def test_create_alias_with_local_and_external_targets(api, example_com):
    body = {"address": "team@example.com", "targets": ["alice@example.com", "someone@elsewhere.org"]}
    response = api.post("/api/v1/aliases/", body, format="json")
    assert response.status_code == 201
    assert response.json()["targets"] == ["alice@example.com", "someone@elsewhere.org"]
    assert config.expand("team@example.com").mailboxes == ["alice@example.com"]


def test_catchall_is_created_and_found_by_at_domain(api, example_com):
    response = api.post("/api/v1/aliases/", {"address": "@example.com", "targets": ["bob@example.com"]}, format="json")
    assert response.status_code == 201
    assert response.json()["address"] == "@example.com"
    assert api.get("/api/v1/aliases/@example.com/").json()["targets"] == ["bob@example.com"]
    assert config.recipient_kind("nobody@example.com") == "alias"


def test_discard_alias_needs_no_targets(api, example_com):
    response = api.post("/api/v1/aliases/", {"address": "void@example.com", "discard": True}, format="json")
    assert response.status_code == 201
    assert Alias.objects.get(local_part="void").discard is True


def test_patch_targets_replaces_them(api, example_com):
    api.post("/api/v1/aliases/", {"address": "team@example.com", "targets": ["alice@example.com"]}, format="json")
    response = api.patch("/api/v1/aliases/team@example.com/", {"targets": ["bob@example.com"]}, format="json")
    assert response.status_code == 200
    assert Alias.objects.get(local_part="team").targets == ["bob@example.com"]


def test_delete_alias_answers_204(api, example_com):
    api.post("/api/v1/aliases/", {"address": "team@example.com", "targets": ["alice@example.com"]}, format="json")
    assert api.delete("/api/v1/aliases/team@example.com/").status_code == 204
    assert not Alias.objects.filter(local_part="team").exists()
