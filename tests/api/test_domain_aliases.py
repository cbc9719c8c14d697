"""Domain aliases: example.org → example.com makes every address at example.org reach example.com."""

from __future__ import annotations

from agents import config
from webadmin.models import DomainAlias


def test_create_domain_alias_routes_mail(api, example_com):
    response = api.post("/api/v1/domain-aliases/", {"name": "example.org", "target": "example.com"}, format="json")
    assert response.status_code == 201
    assert response.json() == {**response.json(), "name": "example.org", "target": "example.com"}
    assert config.canonical_address("alice@example.org") == "alice@example.com"


def test_domain_alias_found_by_name_and_deactivated_with_patch(api, example_com):
    api.post("/api/v1/domain-aliases/", {"name": "example.org", "target": "example.com"}, format="json")
    response = api.patch("/api/v1/domain-aliases/example.org/", {"active": False}, format="json")
    assert response.status_code == 200
    assert DomainAlias.objects.get(name="example.org").active is False


def test_delete_domain_alias_answers_204(api, example_com):
    api.post("/api/v1/domain-aliases/", {"name": "example.org", "target": "example.com"}, format="json")
    assert api.delete("/api/v1/domain-aliases/example.org/").status_code == 204
    assert not DomainAlias.objects.exists()
