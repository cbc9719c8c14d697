"""Cluster mode, until a proxy sends logins to the home node: an IMAP or POP3 login on another node
is refused with where to go, instead of showing an empty mailbox (and keeping a client's Sent copy
on the wrong disk). No store is made for the mailbox on that node."""

import imaplib
import poplib

import pytest

from agents import metrics
from agents.cluster.nodes import renew
from agents.imap.service import authenticate
from agents.pop3.runner import build_server
from agents.store import Store
from agents.tls import ensure_certificate, settings_server_context
from tests.conftest import PASSWORD
from tests.imap.conftest import _run_server
from tests.serverthread import serving


@pytest.fixture
def node_a(transactional_db, make_mailbox, settings):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "a"
    make_mailbox("alice@example.com", home_node="b")
    make_mailbox("dave@example.com", home_node="a")
    renew("b", "127.0.0.3", 15, starting=True)
    yield
    metrics.flush()  # the login counters, while the test database still exists


def test_imap_refuses_a_mailbox_homed_on_another_node(node_a, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ensure_certificate(cert, key, "localhost")
    store = Store(tmp_path / "mail")
    for running in _run_server(store, (cert, key), auth=authenticate):
        with pytest.raises(imaplib.IMAP4.error) as refused:
            running.client().login("alice@example.com", PASSWORD)
        assert "[UNAVAILABLE]" in str(refused.value) and "node b (127.0.0.3)" in str(refused.value)
        running.login("dave@example.com").logout()  # a mailbox homed here logs in as ever
    assert not (tmp_path / "mail" / "example.com" / "alice").exists()


def test_pop3_refuses_a_mailbox_homed_on_another_node(node_a, tmp_path):
    store = Store(tmp_path / "mail")
    server = build_server(bind="127.0.0.1", port=0, tls_port=0, ssl_context=settings_server_context(), store=store)
    server.config.dev_mode = True
    with serving(server):
        pop = poplib.POP3("127.0.0.1", server.ports[0], timeout=10)
        try:
            pop.user("alice@example.com")
            with pytest.raises(poplib.error_proto) as refused:
                pop.pass_(PASSWORD)
            assert b"[SYS/TEMP]" in refused.value.args[0] and b"node b (127.0.0.3)" in refused.value.args[0]
        finally:
            pop.close()
    assert not (tmp_path / "mail" / "example.com" / "alice").exists()
