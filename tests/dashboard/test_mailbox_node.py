"""The dashboard in cluster mode: a new mailbox's node (placement's choice preselected, any running
node choosable), and a mailbox's page that moves it to another node (superadmin, CSRF-protected)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from agents.cluster.nodes import renew
from agents.models import MailboxMove
from tests.cluster.nodes import published
from tests.dashboard.conftest import STAFF_PASSWORD
from webadmin.models import Mailbox


@pytest.fixture
def cluster(settings, db):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "a"
    for name, address in (("a", "127.0.0.2"), ("b", "127.0.0.3"), ("c", "127.0.0.4")):
        renew(name, address, 60, starting=True)


def strict_client(username: str) -> Client:
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=username, password=STAFF_PASSWORD)
    return client


def post(client: Client, url: str, data: dict):  # noqa: ANN201
    client.get(url)
    return client.post(url, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


def test_the_new_mailbox_form_preselects_placements_node_and_takes_another(superuser, example_com, cluster):
    Mailbox.objects.update(home_node="a")
    client = strict_client("root")
    url = "/dashboard/domains/example.com/mailboxes/new/"
    form = client.get(url).content.decode()
    select = re.search(r'<select name="home_node".*?</select>', form, re.S)
    assert select, "no node choice in the new mailbox form"
    options = re.findall(r'<option value="(\w+)"( selected)?>', select.group(0))
    assert options == [("a", ""), ("b", " selected"), ("c", "")], options  # b and c hold none; b comes first
    made = post(client, url, {"local_part": "newbie", "password": "x-long-password-9", "active": "on",
                              "home_node": "c"})
    assert made.status_code == 302, made.content.decode()[-2000:]
    assert Mailbox.objects.get(local_part="newbie").home_node == "c"
    edit = client.get("/dashboard/domains/example.com/mailboxes/newbie/edit/").content.decode()
    field = re.search(r'<input[^>]*name="home_node"[^>]*>', edit)
    assert field and 'value="c"' in field.group(0) and "disabled" in field.group(0), "the edit form hides the node"


def test_a_superadmin_moves_a_mailbox_from_its_page(superuser, example_com, cluster):
    Mailbox.objects.filter(local_part="alice").update(home_node="b")
    target = f"t{uuid.uuid4().hex[:8]}"  # a queue of its own: tests running beside this one share the broker
    renew(target, "127.0.0.5", 60, starting=True)
    client = strict_client("root")
    url = "/dashboard/domains/example.com/mailboxes/alice/"
    page = client.get(url).content.decode()
    assert 'id="home-node" class="mono">b<' in page
    offered = re.findall(r'<option value="(\w+)">', page)
    assert offered == ["a", "c", target], f"the move form offers the wrong nodes: {offered}"
    refused = client.post(url, {"what": "move", "node": target})
    assert refused.status_code == 403 and not MailboxMove.objects.exists(), "a move without the CSRF token"
    with published() as sent:
        moved = post(client, url, {"what": "move", "node": target})
    assert moved.status_code == 302
    row = MailboxMove.objects.get()
    assert (row.address, row.source, row.target, row.state) == ("alice@example.com", "b", target, "copying")
    assert ("agents.tasks.move_mailbox", [row.pk], f"deliver.{target}") in sent, sent
    page = client.get(url).content.decode()
    assert "Latest move:" in page and f"b → {target}" in page and "copying" in page


def test_a_domain_admin_sees_the_node_but_cannot_move(make_domain_admin, example_com, cluster):
    make_domain_admin("dana", "example.com")
    client = strict_client("dana")
    url = "/dashboard/domains/example.com/mailboxes/alice/"
    page = client.get(url).content.decode()
    assert 'id="home-node"' in page and 'id="move-form"' not in page
    post(client, url, {"what": "move", "node": "c"})
    assert not MailboxMove.objects.exists()


def test_on_one_machine_the_page_has_no_node_card(superuser, example_com):
    page = strict_client("root").get("/dashboard/domains/example.com/mailboxes/alice/").content.decode()
    assert 'id="move"' not in page and 'name="home_node"' not in strict_client("root").get(
        "/dashboard/domains/example.com/mailboxes/new/").content.decode()
