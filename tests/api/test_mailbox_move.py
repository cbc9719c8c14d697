"""The API's side of nodes (cluster mode): a mailbox's ``home_node`` (placement's choice by default,
a running node when chosen), and ``/mailboxes/{id}/move/`` to move one (superadmin only)."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from agents.cluster.nodes import renew, stopped
from agents.models import MailboxMove
from tests.cluster.nodes import published
from webadmin.models import Mailbox


@pytest.fixture
def cluster(settings, db):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "a"
    for name, address in (("a", "127.0.0.2"), ("b", "127.0.0.3"), ("c", "127.0.0.4")):
        renew(name, address, 60, starting=True)


def test_a_new_mailbox_goes_to_the_live_node_home_to_the_fewest(api, example_com, cluster, make_mailbox):
    make_mailbox("one@example.com", home_node="b")
    stopped("c")  # down: never chosen
    Mailbox.objects.filter(domain=example_com).update(home_node="a")  # alice, bob, admin…: a is full
    made = api.post("/api/v1/mailboxes/", {"address": "new@example.com", "password": "x-long-password-9"},
                    format="json")
    assert made.status_code == 201, made.content
    assert made.json()["home_node"] == "b"
    chosen = api.post("/api/v1/mailboxes/", {"address": "picked@example.com", "password": "x-long-password-9",
                                             "home_node": "a"}, format="json")
    assert chosen.status_code == 201 and chosen.json()["home_node"] == "a"
    dead = api.post("/api/v1/mailboxes/", {"address": "nowhere@example.com", "password": "x-long-password-9",
                                           "home_node": "c"}, format="json")
    assert dead.status_code == 400 and "No running node is named 'c'" in dead.json()["home_node"][0]


def test_changing_home_node_by_patch_points_to_the_move_action(api, example_com, cluster):
    response = api.patch("/api/v1/mailboxes/alice@example.com/", {"home_node": "b"}, format="json")
    assert response.status_code == 400 and "/move/" in response.json()["home_node"][0]
    same = api.patch("/api/v1/mailboxes/alice@example.com/", {"home_node": Mailbox.objects.get(
        local_part="alice").home_node, "name": "Alice"}, format="json")
    assert same.status_code == 200


def test_move_starts_on_the_target_nodes_queue_and_reports_progress(api, example_com, cluster):
    Mailbox.objects.filter(local_part="alice").update(home_node="b")
    target = f"t{uuid.uuid4().hex[:8]}"  # a queue of its own: tests running beside this one share the broker
    renew(target, "127.0.0.4", 60, starting=True)
    assert api.get("/api/v1/mailboxes/alice@example.com/move/").status_code == 404
    with published() as sent:
        started = api.post("/api/v1/mailboxes/alice@example.com/move/", {"node": target}, format="json")
    assert started.status_code == 202, started.content
    body = started.json()
    assert (body["source"], body["target"], body["state"]) == ("b", target, "copying")
    assert ("agents.tasks.move_mailbox", [body["id"]], f"deliver.{target}") in sent, sent
    again = api.post("/api/v1/mailboxes/alice@example.com/move/", {"node": target}, format="json")
    assert again.status_code == 400 and "being moved already" in again.json()["node"][0]
    assert api.get("/api/v1/mailboxes/alice@example.com/move/").json()["id"] == body["id"]


def test_a_move_is_refused_with_a_reason(api, dana, example_com, cluster, settings):
    Mailbox.objects.filter(local_part="alice").update(home_node="b")
    stopped("c")
    down = api.post("/api/v1/mailboxes/alice@example.com/move/", {"node": "c"}, format="json")
    assert down.status_code == 400 and "node c is down" in down.json()["node"][0]
    home = api.post("/api/v1/mailboxes/alice@example.com/move/", {"node": "b"}, format="json")
    assert home.status_code == 400 and "homed on node b already" in home.json()["node"][0]
    assert dana.post("/api/v1/mailboxes/alice@example.com/move/", {"node": "a"}, format="json").status_code == 403
    settings.MAILAPP_CLUSTER = False
    alone = api.post("/api/v1/mailboxes/alice@example.com/move/", {"node": "a"}, format="json")
    assert alone.status_code == 400 and "cluster mode" in alone.json()["node"][0]
    assert not MailboxMove.objects.exists()


def test_the_node_to_node_door_wants_the_moves_key(api, example_com, cluster, settings):
    settings.MAILAPP_NODE = "b"
    move = MailboxMove.objects.create(address="alice@example.com", source="b", target="c")
    web = Client()
    url = f"/cluster/moves/{move.pk}/archive"
    assert web.post(url, b"", content_type="application/zlib").status_code == 403
    wrong = web.post(url, b"", content_type="application/zlib", HTTP_AUTHORIZATION="Move " + "0" * 64)
    assert wrong.status_code == 403
    from agents.cluster.move import pull_key

    settings.MAILAPP_NODE = "c"  # the key is right, but this node is not the move's source
    assert web.post(url, b"", content_type="application/zlib",
                    HTTP_AUTHORIZATION=f"Move {pull_key(move)}").status_code == 403
    settings.MAILAPP_NODE = "b"
    import zlib

    ok = web.post(url, zlib.compress(b""), content_type="application/zlib", HTTP_AUTHORIZATION=f"Move {pull_key(move)}")
    assert ok.status_code == 200 and ok["Content-Type"] == "application/x-tar"
    assert b"".join(ok.streaming_content)[257:262] == b"ustar"
