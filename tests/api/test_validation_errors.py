"""Every rule of the admin comes back from the API as a field error with 400, in the model's words.

The rules live on the models and in webadmin.services; these tests check that the
API reaches each one and reports it on the field a client sent.
"""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from webadmin.models import Alias, Domain, Mailbox


def error(response, field: str) -> str:
    assert response.status_code == 400, response.content
    return " ".join(response.json()[field])


@pytest.mark.parametrize("address", ["alice", "alice@@example.com", "a b@example.com", "alice@", "@", ".a@example.com"])
def test_bad_mailbox_address(api, example_com, address):
    response = api.post("/api/v1/mailboxes/", {"address": address, "password": PASSWORD}, format="json")
    assert error(response, "address")


@pytest.mark.parametrize("name", ["localhost", "not a domain", "-bad-.com", "exa_mple.com", "192.168.0.1", ""])
def test_bad_domain_name(api, db, name):
    response = api.post("/api/v1/domains/", {"name": name}, format="json")
    assert error(response, "name")
    assert not Domain.objects.exists()


def test_duplicate_domain_in_another_case(api, example_com):
    assert "already exists" in error(api.post("/api/v1/domains/", {"name": "EXAMPLE.COM"}, format="json"), "name")


def test_duplicate_mailbox(api, example_com):
    response = api.post("/api/v1/mailboxes/", {"address": "Alice@example.com", "password": PASSWORD}, format="json")
    assert "already exists" in error(response, "address")
    assert Mailbox.objects.filter(local_part="alice").count() == 1


def test_duplicate_alias(api, example_com):
    api.post("/api/v1/aliases/", {"address": "team@example.com", "targets": ["alice@example.com"]}, format="json")
    response = api.post(
        "/api/v1/aliases/", {"address": "team@example.com", "targets": ["bob@example.com"]}, format="json"
    )
    assert "already exists" in error(response, "address")


def test_duplicate_domain_alias(api, example_com):
    api.post("/api/v1/domain-aliases/", {"name": "example.org", "target": "example.com"}, format="json")
    response = api.post("/api/v1/domain-aliases/", {"name": "example.org", "target": "example.com"}, format="json")
    assert error(response, "name")


def test_mailbox_where_an_alias_is(api, example_com):
    body = {"address": "postmaster@example.com", "password": PASSWORD}
    response = api.post("/api/v1/mailboxes/", body, format="json")
    assert "already an alias" in error(response, "address")


def test_alias_where_a_mailbox_is(api, example_com):
    response = api.post(
        "/api/v1/aliases/", {"address": "alice@example.com", "targets": ["bob@example.com"]}, format="json"
    )
    assert "already a mailbox" in error(response, "address")
    assert not Alias.objects.filter(local_part="alice").exists()


def test_alias_loop(api, example_com):
    api.post("/api/v1/aliases/", {"address": "a@example.com", "targets": ["b@example.com"]}, format="json")
    api.post("/api/v1/aliases/", {"address": "b@example.com", "targets": ["c@example.com"]}, format="json")
    response = api.post("/api/v1/aliases/", {"address": "c@example.com", "targets": ["a@example.com"]}, format="json")
    assert "loop" in error(response, "targets")


def test_alias_loop_made_by_a_patch(api, example_com):
    api.post("/api/v1/aliases/", {"address": "a@example.com", "targets": ["b@example.com"]}, format="json")
    api.post("/api/v1/aliases/", {"address": "b@example.com", "targets": ["alice@example.com"]}, format="json")
    response = api.patch("/api/v1/aliases/b@example.com/", {"targets": ["a@example.com"]}, format="json")
    assert "loop" in error(response, "targets")
    assert Alias.objects.get(local_part="b").targets == ["alice@example.com"]


def test_alias_without_targets_or_discard(api, example_com):
    response = api.post("/api/v1/aliases/", {"address": "team@example.com", "targets": []}, format="json")
    assert "at least one target" in error(response, "targets")


def test_alias_with_a_bad_target(api, example_com):
    response = api.post(
        "/api/v1/aliases/", {"address": "team@example.com", "targets": ["not an address"]}, format="json"
    )
    assert error(response, "targets")


def test_mailbox_in_an_unknown_domain(api, example_com):
    response = api.post("/api/v1/mailboxes/", {"address": "x@example.info", "password": PASSWORD}, format="json")
    assert "is not a domain of this appliance" in error(response, "address")


def test_alias_in_an_unknown_domain(api, example_com):
    response = api.post(
        "/api/v1/aliases/", {"address": "x@example.info", "targets": ["alice@example.com"]}, format="json"
    )
    assert "is not a domain of this appliance" in error(response, "address")


def test_domain_alias_to_an_unknown_domain(api, example_com):
    response = api.post("/api/v1/domain-aliases/", {"name": "example.org", "target": "example.info"}, format="json")
    assert error(response, "target")


def test_domain_alias_that_is_a_domain(api, example_com, make_domain):
    make_domain("example.net")
    response = api.post("/api/v1/domain-aliases/", {"name": "example.net", "target": "example.com"}, format="json")
    assert "already a domain" in error(response, "name")


def test_domain_that_is_a_domain_alias(api, example_com):
    api.post("/api/v1/domain-aliases/", {"name": "example.org", "target": "example.com"}, format="json")
    assert "already a domain alias" in error(
        api.post("/api/v1/domains/", {"name": "example.org"}, format="json"), "name"
    )


def test_postmaster_cannot_be_postmaster_itself(api, db):
    body = {"name": "example.com", "postmaster": "postmaster@example.com"}
    assert error(api.post("/api/v1/domains/", body, format="json"), "postmaster")
    assert not Domain.objects.exists()  # the whole creation was rolled back


def test_postmaster_must_exist_in_another_local_domain(api, example_com):
    body = {"name": "example.net", "postmaster": "nobody@example.com"}
    assert "no mailbox" in error(api.post("/api/v1/domains/", body, format="json"), "postmaster")


def test_negative_quota_on_create(api, example_com):
    body = {"address": "carol@example.com", "password": PASSWORD, "quota": -1}
    assert "negative" in error(api.post("/api/v1/mailboxes/", body, format="json"), "quota")


def test_negative_quota_on_patch(api, example_com):
    assert "negative" in error(api.patch("/api/v1/mailboxes/alice@example.com/", {"quota": -5}, format="json"), "quota")
    assert Mailbox.objects.get(local_part="alice").quota is None


def test_negative_domain_default_quota(api, example_com):
    response = api.patch("/api/v1/domains/example.com/", {"default_quota": -1}, format="json")
    assert "negative" in error(response, "default_quota")


def test_mailbox_needs_a_password_on_create(api, example_com):
    assert error(api.post("/api/v1/mailboxes/", {"address": "carol@example.com"}, format="json"), "password")


def test_domain_mailbox_limit(api, example_com):
    api.patch("/api/v1/domains/example.com/", {"max_mailboxes": 3}, format="json")  # admin@, alice@, bob@
    response = api.post("/api/v1/mailboxes/", {"address": "carol@example.com", "password": PASSWORD}, format="json")
    assert "maximum of 3 mailboxes" in error(response, "non_field_errors")


BAD_RULES = [
    ({"conditions": [{"field": "body", "value": "x"}]}, "conditions", "field must be one of"),
    ({"conditions": [{"field": "subject", "op": "sounds_like", "value": "x"}]}, "conditions", "op must be one of"),
    ({"conditions": [{"field": "subject", "op": "matches", "value": "(unclosed"}]}, "conditions", "regular expression"),
    ({"conditions": [{"field": "size", "op": "gt", "value": "big"}]}, "conditions", "number of bytes"),
    ({"conditions": [{"field": "subject", "op": "gt", "value": "1"}]}, "conditions", "only apply to size"),
    ({"conditions": [{"field": "header", "value": "x"}]}, "conditions", "header name"),
    ({"conditions": "subject contains x"}, "conditions", "must be a list"),
    ({"actions": []}, "actions", "at least one action"),
    ({"actions": [{"action": "explode"}]}, "actions", "must be one of"),
    ({"actions": [{"action": "fileinto", "folder": "../../etc"}]}, "actions", "folder"),
    ({"actions": [{"action": "redirect", "address": "nowhere"}]}, "actions", "no @"),
    ({"actions": [{"action": "autoreply", "body": ""}]}, "actions", "needs a body"),
    ({"actions": [{"action": "autoreply", "body": "away", "days": 0}]}, "actions", "at least 1"),
    ({"match": "most"}, "match", "valid choice"),
    ({"mailbox": "nobody@example.com"}, "mailbox", "no mailbox"),
]


@pytest.mark.parametrize(("change", "field", "words"), BAD_RULES)
def test_bad_filter_rules(api, example_com, change, field, words):
    body = {"mailbox": "alice@example.com", "name": "rule", "actions": [{"action": "flag"}], **change}
    assert words in error(api.post("/api/v1/filters/", body, format="json"), field)


def test_body_that_is_not_json(api, example_com):
    response = api.generic("POST", "/api/v1/mailboxes/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_body_that_is_a_list(api, example_com):
    response = api.post("/api/v1/mailboxes/", [1, 2], format="json")
    assert error(response, "non_field_errors")


def test_form_encoded_body_is_refused(api, example_com):
    response = api.post("/api/v1/domains/", {"name": "example.info"})  # multipart, not JSON
    assert response.status_code == 415
