"""Cluster mode: webmail is routed by the same placement as the mail proxy. A user signed in on a node
that is not the mailbox's home is sent to the home node's webmail with a signed hand-off link (no
second password prompt), and no store is made here; with the home node down the page says where
the mailbox is served. The link is void when forged, late, for another client, after a password
change, or once it has signed someone in."""

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from agents.cluster.nodes import renew, stopped
from webadmin.webmail import auth


@pytest.fixture
def cluster(db, make_mailbox, settings):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "a"
    settings.MAILAPP_HTTP_PORT = 8443
    settings.MAILAPP_NODE_WEB_URL = "https://{node}.mail.example.com:{port}"
    make_mailbox("alice@example.com", home_node="b")
    make_mailbox("dave@example.com", home_node="a")
    renew("b", "127.0.0.3", 15, starting=True)
    return settings


def handoff_link(client: Client) -> str:
    moved = client.get("/mail/?folder=INBOX")
    assert moved.status_code == 302
    assert moved["Location"].startswith("https://b.mail.example.com:8443/mail/handoff/?t=")
    return parse_qs(urlsplit(moved["Location"]).query)["t"][0]


def test_webmail_on_another_node_hands_the_user_to_the_home_node(cluster, login, settings):
    token = handoff_link(login("alice@example.com"))
    assert not (Path(settings.MAILAPP_MAIL_ROOT) / "example.com" / "alice").exists()
    assert login("dave@example.com").get("/mail/").status_code == 200  # homed here: read as ever

    settings.MAILAPP_NODE = "b"  # the same request, now arriving at node b
    browser = Client()
    landed = browser.get("/mail/handoff/", {"t": token})
    assert landed.status_code == 302 and landed["Location"] == "/mail/?folder=INBOX"
    assert browser.get("/mail/").status_code == 200


def test_a_forged_late_or_stolen_hand_off_signs_nobody_in(cluster, login, settings, monkeypatch):
    token = handoff_link(login("alice@example.com"))
    settings.MAILAPP_NODE = "b"
    for forged in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "", "x" * 5000):
        browser = Client()
        assert browser.get("/mail/handoff/", {"t": forged})["Location"] == "/mail/login/"
        assert browser.get("/mail/")["Location"].startswith("/mail/login/")
    other = Client(REMOTE_ADDR="198.51.100.7")  # the link leaked to another client
    assert other.get("/mail/handoff/", {"t": token})["Location"] == "/mail/login/"
    monkeypatch.setattr(auth, "HANDOFF_SECONDS", -1)  # followed too late
    assert Client().get("/mail/handoff/", {"t": token})["Location"] == "/mail/login/"


def test_a_hand_off_link_signs_in_once(cluster, login, settings):
    token = handoff_link(login("alice@example.com"))
    settings.MAILAPP_NODE = "b"
    first = Client()
    assert first.get("/mail/handoff/", {"t": token})["Location"] == "/mail/?folder=INBOX"
    again = Client()  # the same link once more: from the browser's history, a proxy's log, a second tab
    assert again.get("/mail/handoff/", {"t": token})["Location"] == "/mail/login/"
    assert again.get("/mail/")["Location"].startswith("/mail/login/")
    assert first.get("/mail/").status_code == 200, "the browser that followed it first stays signed in"


def test_each_hand_off_link_of_a_session_is_its_own(cluster, login, settings):
    client = login("alice@example.com")
    tokens = [handoff_link(client), handoff_link(client)]  # within a second: same mailbox, page and client
    assert tokens[0] != tokens[1]
    settings.MAILAPP_NODE = "b"
    for token in tokens:
        assert Client().get("/mail/handoff/", {"t": token})["Location"] == "/mail/?folder=INBOX"


def test_used_links_are_forgotten_once_they_could_no_longer_sign_in(cluster, login, settings):
    import datetime

    from django.utils import timezone

    from webadmin.models import WebmailHandoff

    stale = timezone.now() - datetime.timedelta(seconds=auth.HANDOFF_KEPT_SECONDS + 1)
    WebmailHandoff.objects.create(digest="0" * 64, used=stale)
    token = handoff_link(login("alice@example.com"))
    settings.MAILAPP_NODE = "b"
    assert Client().get("/mail/handoff/", {"t": token})["Location"] == "/mail/?folder=INBOX"
    assert not WebmailHandoff.objects.filter(digest="0" * 64).exists()
    assert WebmailHandoff.objects.count() == 1


def test_a_password_change_voids_a_hand_off(cluster, login, settings):
    from webadmin.models import Mailbox

    token = handoff_link(login("alice@example.com"))
    mailbox = Mailbox.objects.get(local_part="alice")
    mailbox.set_password("another password altogether")
    mailbox.save()
    settings.MAILAPP_NODE = "b"
    assert Client().get("/mail/handoff/", {"t": token})["Location"] == "/mail/login/"


def test_a_hand_off_is_refused_where_the_mailbox_is_not_homed(cluster, login, settings):
    token = handoff_link(login("alice@example.com"))
    settings.MAILAPP_NODE = "c"  # a third node: not alice's home either
    assert Client().get("/mail/handoff/", {"t": token})["Location"] == "/mail/login/"


def test_with_the_home_node_down_webmail_names_it_and_makes_no_store(cluster, login, settings):
    stopped("b")
    page = login("alice@example.com").get("/mail/")
    assert page.status_code == 503
    assert "This mailbox is served by node b (127.0.0.3), which is down now; connect there" in page.content.decode()
    assert not (Path(settings.MAILAPP_MAIL_ROOT) / "example.com" / "alice").exists()
