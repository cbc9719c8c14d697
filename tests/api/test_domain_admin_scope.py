"""A domain admin's token reaches only its domains: objects elsewhere are 404, as if they did not exist.

dana manages example.com; example.net (carol@, team@, a filter, the domain alias
example.org) belongs to someone else. Every endpoint and method is tried on it.
"""

from __future__ import annotations

import pytest

from agents.models import QueueMessage, QueueRecipient
from tests.conftest import PASSWORD
from webadmin import services
from webadmin.models import Alias, Domain, DomainAlias, Filter, Mailbox


def foreign_objects() -> dict[str, list[str]]:
    """Detail URLs of example.net's objects, by id and by natural key."""
    carol = Mailbox.objects.get(local_part="carol")
    team = Alias.objects.get(local_part="team", domain__name="example.net")
    return {
        "domains": [str(Domain.objects.get(name="example.net").pk), "example.net"],
        "mailboxes": [str(carol.pk), "carol@example.net"],
        "aliases": [str(team.pk), "team@example.net", "postmaster@example.net"],
        "domain-aliases": [str(DomainAlias.objects.get(name="example.org").pk), "example.org"],
        "filters": [str(Filter.objects.get(mailbox=carol).pk)],
    }


RESOURCES = ["domains", "mailboxes", "aliases", "domain-aliases", "filters"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_lists_hold_only_own_domains_objects(dana, example_net, resource):
    body = dana.get(f"/api/v1/{resource}/?page_size=500").json()
    text = str(body["results"])
    assert "example.net" not in text and "example.org" not in text


@pytest.mark.parametrize("resource", RESOURCES)
def test_own_objects_are_listed(dana, api, example_net, resource):
    assert dana.get(f"/api/v1/{resource}/").status_code == 200
    if resource == "domains":
        assert [d["name"] for d in dana.get("/api/v1/domains/").json()["results"]] == ["example.com"]


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_foreign_objects_are_not_found_by_any_method(dana, example_net, resource, method):
    for key in foreign_objects()[resource]:
        body = {"active": False} if method in ("put", "patch") else None
        response = getattr(dana, method)(f"/api/v1/{resource}/{key}/", body, format="json")
        assert response.status_code == 404, (method, resource, key, response.content)


@pytest.mark.parametrize("resource", RESOURCES)
def test_foreign_objects_are_left_unchanged(dana, example_net, resource):
    for key in foreign_objects()[resource]:
        dana.patch(f"/api/v1/{resource}/{key}/", {"active": False}, format="json")
        dana.delete(f"/api/v1/{resource}/{key}/")
    assert Domain.objects.get(name="example.net").active
    assert Mailbox.objects.get(local_part="carol").active
    assert Alias.objects.get(local_part="team", domain__name="example.net").active
    assert DomainAlias.objects.get(name="example.org").active
    assert Filter.objects.get(mailbox__local_part="carol").active


def test_a_foreign_object_looks_exactly_like_a_missing_one(dana, example_net):
    foreign = dana.get("/api/v1/mailboxes/carol@example.net/")
    missing = dana.get("/api/v1/mailboxes/nobody@example.invalid/")
    assert (foreign.status_code, foreign.content) == (missing.status_code, missing.content)


def test_mailbox_in_a_foreign_domain_is_refused_as_unknown(dana, example_net):
    foreign = dana.post("/api/v1/mailboxes/", {"address": "eve@example.net", "password": PASSWORD}, format="json")
    missing = dana.post("/api/v1/mailboxes/", {"address": "eve@example.info", "password": PASSWORD}, format="json")
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json()["address"] == [m.replace("example.info", "example.net") for m in missing.json()["address"]]
    assert not Mailbox.objects.filter(local_part="eve").exists()


def test_alias_in_a_foreign_domain_is_refused_as_unknown(dana, example_net):
    body = {"address": "eve@example.net", "targets": ["alice@example.com"]}
    response = dana.post("/api/v1/aliases/", body, format="json")
    assert "example.net is not a domain of this appliance." in response.json()["address"]
    catchall = dana.post(
        "/api/v1/aliases/", {"address": "@example.net", "targets": ["alice@example.com"]}, format="json"
    )
    assert catchall.status_code == 400
    assert not Alias.objects.filter(local_part__in=["eve", ""]).exists()


def test_domain_alias_onto_a_foreign_domain_is_refused_as_unknown(dana, example_net):
    foreign = dana.post("/api/v1/domain-aliases/", {"name": "example.biz", "target": "example.net"}, format="json")
    missing = dana.post("/api/v1/domain-aliases/", {"name": "example.biz", "target": "example.invalid"}, format="json")
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json()["target"] == [m.replace("example.invalid", "example.net") for m in missing.json()["target"]]


def test_filter_on_a_foreign_mailbox_is_refused_as_unknown(dana, example_net):
    body = {"mailbox": "carol@example.net", "name": "x", "actions": [{"action": "flag"}]}
    response = dana.post("/api/v1/filters/", body, format="json")
    assert response.json()["mailbox"] == ["There is no mailbox carol@example.net."]


def test_own_filter_cannot_be_moved_to_a_foreign_mailbox(dana, example_net):
    body = {"mailbox": "alice@example.com", "name": "x", "actions": [{"action": "flag"}]}
    rule_id = dana.post("/api/v1/filters/", body, format="json").json()["id"]
    response = dana.patch(f"/api/v1/filters/{rule_id}/", {"mailbox": "carol@example.net"}, format="json")
    assert response.status_code == 400
    assert Filter.objects.get(pk=rule_id).mailbox.local_part == "alice"


def test_filtering_a_list_by_a_foreign_domain_finds_nothing(dana, example_net):
    assert dana.get("/api/v1/mailboxes/?domain=example.net").json()["count"] == 0
    assert dana.get("/api/v1/filters/?mailbox=carol@example.net").json()["count"] == 0
    assert dana.get("/api/v1/aliases/?search=team").json()["count"] == 0


def test_domain_admin_cannot_create_or_delete_domains(dana, example_net):
    assert dana.post("/api/v1/domains/", {"name": "example.info"}, format="json").status_code == 403
    assert dana.delete("/api/v1/domains/example.com/").status_code == 403
    assert Domain.objects.filter(name="example.com").exists()


def test_domain_admin_cannot_raise_its_mailbox_limit(dana, example_com):
    response = dana.patch("/api/v1/domains/example.com/", {"max_mailboxes": 1000, "description": "ours"}, format="json")
    assert response.status_code == 200
    example_com.refresh_from_db()
    assert (example_com.max_mailboxes, example_com.description) == (0, "ours")


def test_domain_admin_manages_its_own_mailboxes(dana, example_net):
    created = dana.post("/api/v1/mailboxes/", {"address": "dave@example.com", "password": PASSWORD}, format="json")
    assert created.status_code == 201
    assert dana.patch("/api/v1/mailboxes/dave@example.com/", {"quota": 10}, format="json").status_code == 200
    assert dana.delete("/api/v1/mailboxes/dave@example.com/").status_code == 204


def queued(sender: str, *recipients: str) -> QueueMessage:
    message = QueueMessage.objects.create(queue_id=f"Q{QueueMessage.objects.count():019d}", sender=sender)
    for address in recipients:
        QueueRecipient.objects.create(message=message, address=address)
    return message


def test_queue_shows_only_mail_from_or_to_own_domains(dana, example_net):
    mine = queued("someone@elsewhere.org", "alice@example.com")
    theirs = queued("someone@elsewhere.org", "carol@example.net")
    ids = [m["queue_id"] for m in dana.get("/api/v1/queue/").json()["results"]]
    assert ids == [mine.queue_id]
    assert dana.get(f"/api/v1/queue/{theirs.queue_id}/").status_code == 404


def test_queue_hides_other_domains_recipients_of_a_shared_message(dana, example_net):
    shared = queued("someone@elsewhere.org", "alice@example.com", "carol@example.net")
    recipients = dana.get(f"/api/v1/queue/{shared.queue_id}/").json()["recipients"]
    assert [r["address"] for r in recipients] == ["alice@example.com"]


def test_agents_are_for_superadmins_only(dana, example_net):
    assert dana.get("/api/v1/agents/").status_code == 403
    assert dana.get("/api/v1/agents/smtp/").status_code == 403


def test_alias_loop_error_does_not_name_other_domains_addresses(dana, example_net):
    services.create_alias("relay@example.net", ["back@example.com"])  # another tenant's alias into example.com
    services.create_alias("hop@example.net", ["relay@example.net"])
    response = dana.post(
        "/api/v1/aliases/", {"address": "back@example.com", "targets": ["hop@example.net"]}, format="json"
    )
    message = " ".join(response.json()["targets"])
    assert response.status_code == 400 and "loop" in message
    assert "relay@example.net" not in message and "(an address of another domain)" in message
    assert "back@example.com" in message  # its own addresses stay readable


def test_own_domain_alias_cannot_be_pointed_at_a_foreign_domain(dana, example_net):
    dana.post("/api/v1/domain-aliases/", {"name": "example.biz", "target": "example.com"}, format="json")
    response = dana.patch("/api/v1/domain-aliases/example.biz/", {"target": "example.net"}, format="json")
    assert response.status_code == 400
    assert DomainAlias.objects.get(name="example.biz").target.name == "example.com"
