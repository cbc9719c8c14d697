"""A stopping POP3 agent writes the login counters its sessions left pending itself, so no timer
thread is left to touch the database after the agent (or a test) let go of it."""

from __future__ import annotations

import poplib

from agents import metrics
from agents.models import MetricCounter
from agents.pop3.runner import build_server
from agents.store import Store
from agents.tls import settings_server_context
from tests.conftest import PASSWORD
from tests.serverthread import serving


def test_the_logins_of_a_stopped_agent_are_counted_and_no_timer_is_left(transactional_db, example_com, tmp_path):
    server = build_server(bind="127.0.0.1", port=0, tls_port=0, ssl_context=settings_server_context(),
                          store=Store(tmp_path / "mail"))
    server.config.dev_mode = True
    labels = metrics.labels_text(protocol="pop3", result="success")
    with serving(server):
        client = poplib.POP3("127.0.0.1", server.ports[0], timeout=10)
        try:
            client.user("alice@example.com")
            client.pass_(PASSWORD)
            client.quit()
        finally:
            client.close()
    # Right after the stop, with no wait: the counter is written, and nothing waits to write it again.
    assert MetricCounter.objects.get(name="logins", labels=labels).value == 1
    assert metrics._timer is None
    assert not metrics._pending
