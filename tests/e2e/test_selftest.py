"""The self-test on a running appliance: every hop passes, and a closed IMAP port is named.

``manage.py selftest`` runs next to the appliance, as an operator would; the bounce hop
uses the fake MX (remote.test in the fake DNS), told to refuse one address with 550.
"""

from __future__ import annotations

import pytest

from tests.conftest import free_port
from tests.e2e.clients import Api

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "selftest.test"
NO_KEY = "nokey.selftest.test"  # a domain without a DKIM key
HOPS = ("mailbox", "submission", "queue", "dkim", "delivery", "imap", "pop3", "webmail", "bounce")


@pytest.fixture(scope="module")
def domain(appliance, admin_token):
    api = Api(appliance, admin_token)
    api.domain_with_mailboxes(DOMAIN, "someone")
    api.domain_with_mailboxes(NO_KEY, "someone")
    made = appliance.manage("dkimkey", DOMAIN)
    assert made.returncode == 0, made.stderr.decode()
    return appliance


def hop_lines(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        names = [word for word in line.split()[:3] if word in HOPS]  # "NOT RUN pop3" has two words first
        if names:
            found[names[0]] = line
    return found


def test_every_hop_passes_on_a_healthy_appliance(domain):
    app = domain
    app.mx.set_replies("ghost@remote.test", ["550 5.1.1 no such user"])
    done = app.manage("selftest", "--domain", DOMAIN, "--bounce-to", "ghost@remote.test")
    out = done.stdout.decode()
    assert done.returncode == 0, out + done.stderr.decode()
    lines = hop_lines(out)
    assert set(lines) == set(HOPS), out
    for name in HOPS:
        assert lines[name].startswith("OK"), out
    assert f"._domainkey.{DOMAIN} and verified" in lines["dkim"]
    assert "self-test passed" in out


def test_what_cannot_run_here_says_why_and_never_passes_silently(domain):
    done = domain.manage("selftest", "--domain", NO_KEY, "--bounce-to", "")
    out = done.stdout.decode()
    assert done.returncode == 0, out + done.stderr.decode()
    lines = hop_lines(out)
    assert lines["dkim"].startswith("SKIPPED") and "has no DKIM key" in lines["dkim"]
    assert lines["bounce"].startswith("SKIPPED") and "not configured" in lines["bounce"]
    assert lines["imap"].startswith("OK")


def test_a_closed_imap_port_is_named_as_the_broken_hop(domain):
    # The IMAP agent as the self-test sees it when stopped: nothing listens on its port.
    done = domain.manage("selftest", "--domain", DOMAIN, "--bounce-to", "", MAILAPP_IMAP_PORT=str(free_port()))
    out = done.stdout.decode()
    assert done.returncode != 0
    lines = hop_lines(out)
    assert lines["delivery"].startswith("OK") and lines["imap"].startswith("FAILED"), out
    assert "ConnectionRefusedError" in lines["imap"]
    assert lines["pop3"].startswith("NOT RUN")
    assert "self-test failed at imap" in done.stderr.decode()
