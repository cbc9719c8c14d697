"""ARC on the way out: a forward to an outside address leaves sealed with the forwarding
domain's DKIM key, and the set verifies against the key record in the loopback DNS."""

from __future__ import annotations

import re

import dkim as dkimpy

from agents import config
from agents.mailauth import arc
from agents.mailauth.dkim import dnsfunc
from webadmin import dkimkeys, services

from .conftest import deliver_all, message, queue


def _forward_one(settings, dns_server, mx, example_com, raw: bytes) -> bytes:
    settings.MAILAPP_SRS_SECRETS_FILE = settings.MAILAPP_SPOOL_DIR.parent / "srs_secrets"
    key = dkimkeys.create_key(example_com)
    dns_server.zones[f"{key.selector}._domainkey.example.com"] = {"TXT": [key.dns_value()]}
    services.create_alias("out@example.com", ["dave@remote.test"])
    config.invalidate()
    queue(raw, "alice@orig.test", ["out@example.com"])
    deliver_all()
    (arrived,) = mx.messages
    return arrived.data


def test_a_forward_carries_a_valid_arc_set(settings, dns_server, mx, example_com):
    data = _forward_one(settings, dns_server, mx, example_com, message(sender="alice@orig.test"))
    head = data.split(b"\r\n\r\n", 1)[0]
    assert re.search(rb"^ARC-Seal: i=1; .*cv=none", head, re.M | re.S)
    assert re.search(rb"^ARC-Message-Signature: i=1;", head, re.M)
    assert re.search(rb"^ARC-Authentication-Results: i=1; ", head, re.M)
    status, _results, reason = dkimpy.arc_verify(data, dnsfunc=dnsfunc)
    assert status == b"pass", reason
    assert arc.verify(data.replace(b"Hi there.", b"Hi where.")).result == "fail"


def test_no_seal_when_sealing_is_off(settings, dns_server, mx, example_com):
    settings.MAILAPP_ARC_SEAL = False
    data = _forward_one(settings, dns_server, mx, example_com, message(sender="alice@orig.test"))
    assert b"ARC-Seal:" not in data


def test_a_forward_of_mail_with_a_valid_chain_adds_the_next_instance(settings, dns_server, mx, example_com):
    from agents.mailauth import inbound
    from tests.mailauth.test_arc_results import sealed_by_forwarder

    settings.MAILAPP_MAILAUTH, settings.MAILAPP_RSPAMD_URL, settings.MAILAPP_DNSBL_ZONES = True, "", []
    received = inbound.check(sealed_by_forwarder(dns_server), "192.0.2.1", "mx.forwarder.example",
                             "alice@sender.example", ["out@example.com"])
    assert received.arc is not None and received.arc.result == "pass"
    data = _forward_one(settings, dns_server, mx, example_com, received.raw)
    assert re.search(rb"^ARC-Seal: i=2; .*cv=pass", data, re.M | re.S)
    assert dkimpy.arc_verify(data, dnsfunc=dnsfunc)[0] == b"pass"
