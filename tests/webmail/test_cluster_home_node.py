"""Cluster mode: webmail on a node that is not the mailbox's home says where the mailbox is served
and opens (so makes) no store for it; a mailbox homed here reads as ever."""

from pathlib import Path

from agents.cluster.nodes import renew


def test_webmail_on_another_node_names_the_home_node_and_makes_no_store(db, make_mailbox, login, settings):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "a"
    make_mailbox("alice@example.com", home_node="b")
    make_mailbox("dave@example.com", home_node="a")
    renew("b", "127.0.0.3", 15, starting=True)

    page = login("alice@example.com").get("/mail/")
    assert page.status_code == 503
    assert "This mailbox is served by node b (127.0.0.3); connect there" in page.content.decode()
    assert not (Path(settings.MAILAPP_MAIL_ROOT) / "example.com" / "alice").exists()

    assert login("dave@example.com").get("/mail/").status_code == 200
