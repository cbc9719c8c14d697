"""Outgoing mail is DKIM-signed, and OpenDKIM (an independent C implementation) verifies it
against the key published in DNS."""

from __future__ import annotations

import subprocess

import dns.resolver

from agents.delivery import runner
from agents.mailauth import dkim, keys
from agents.models import QueueMessage
from agents.queue import Envelope, submit
from tests.fakes.smtp import FakeSMTP
from tests.mailauth.conftest import message
from webadmin import dkimkeys


def opendkim_verdict(tmp_path, raw: bytes, dns_server, name: str) -> str:
    """OpenDKIM's Authentication-Results for ``raw``; the key is read back from the loopback DNS."""
    resolver = dns.resolver.Resolver(configure=False)
    host, port = dns_server.address.split(":")
    resolver.nameservers, resolver.port = [host], int(port)
    published = b"".join(resolver.resolve(name, "TXT")[0].strings).decode()
    (tmp_path / "keys").write_text(f"{name} {published}\n")
    (tmp_path / "opendkim.conf").write_text(f"TestPublicKeys {tmp_path / 'keys'}\nSyslog no\nMode v\n")
    (tmp_path / "msg.eml").write_bytes(raw)
    done = subprocess.run(["opendkim", "-x", str(tmp_path / "opendkim.conf"), "-vv", "-t", str(tmp_path / "msg.eml")],
                          capture_output=True, text=True, timeout=20)
    return done.stdout + done.stderr


def publish(dns_server, key) -> str:
    name = f"{key.selector}._domainkey.{key.domain.name}"
    dns_server.zones[name] = {"TXT": [key.dns_value()]}
    return name


def test_signed_message_verifies_with_opendkim(example_com, dns, tmp_path):
    key = dkimkeys.create_key(example_com)
    name = publish(dns, key)
    signed = dkim.sign_outgoing(message(sender="alice@example.com", to="someone@example.net"))
    assert signed.startswith(b"DKIM-Signature:")
    assert "dkim=pass" in opendkim_verdict(tmp_path, signed, dns, name)


def test_tampered_body_fails_with_opendkim(example_com, dns, tmp_path):
    key = dkimkeys.create_key(example_com)
    name = publish(dns, key)
    signed = dkim.sign_outgoing(message(sender="alice@example.com")).replace(b"Second line", b"Second lie")
    assert "dkim=fail" in opendkim_verdict(tmp_path, signed, dns, name)


def test_dashboard_record_is_the_signing_key(example_com):
    key = dkimkeys.create_key(example_com)
    assert keys.dns_record("example.com") == (key.selector, key.dns_value())
    assert keys.dns_record("unknown.example") is None


def test_rotation_signs_with_the_new_selector(example_com, dns):
    old = dkimkeys.create_key(example_com)
    new = dkimkeys.create_key(example_com, rotate=True)
    publish(dns, old)
    publish(dns, new)
    signed = dkim.sign_outgoing(message(sender="alice@example.com"))
    assert new.selector != old.selector
    assert [r.selector for r in dkim.verify(signed)] == [new.selector]
    assert dkim.verify(signed)[0].result == "pass"


def test_ed25519_key_signs_too(example_com, dns):
    key = dkimkeys.create_key(example_com, "ed25519")
    publish(dns, key)
    results = dkim.verify(dkim.sign_outgoing(message(sender="alice@example.com")))
    assert [(r.result, r.selector) for r in results] == [("pass", key.selector)]


def test_mail_from_a_foreign_domain_is_not_signed(example_com):
    dkimkeys.create_key(example_com)
    raw = message(sender="someone@elsewhere.example")
    assert dkim.sign_outgoing(raw) == raw


def test_remote_delivery_sends_it_signed(example_com, dns, settings, tmp_path):
    key = dkimkeys.create_key(example_com)
    name = publish(dns, key)
    with FakeSMTP() as mx:
        dns.zones["example.net"] = {"MX": [(10, "mx.example.net")]}
        dns.zones["mx.example.net"] = {"A": ["127.0.0.1"]}
        settings.MAILAPP_REMOTE_SMTP_PORT = mx.port
        queue_id = submit(message(sender="alice@example.com", to="carol@example.net"),
                          Envelope(sender="alice@example.com", recipients=["carol@example.net"], source="submission",
                                   auth_user="alice@example.com"), enqueue=False)
        assert runner.run(queue_id) == "done"
        sent = mx.messages[0].data
    assert QueueMessage.objects.get(queue_id=queue_id).state == QueueMessage.DONE
    assert sent.startswith(b"DKIM-Signature:")
    assert "dkim=pass" in opendkim_verdict(tmp_path, sent, dns, name)


def test_dkimkey_command_prints_the_record(example_com):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("dkimkey", "example.com", "--ed25519", stdout=out)
    assert "._domainkey.example.com. IN TXT \"v=DKIM1; k=ed25519; p=" in out.getvalue()


def test_only_mail_made_here_is_signed():
    assert dkim.should_sign("submission", "alice@example.com")
    assert dkim.should_sign("webmail", "") and dkim.should_sign("bounce", "")
    assert dkim.should_sign("smtp", "alice@example.com")  # AUTH on port 25
    assert not dkim.should_sign("smtp", "")  # came in from outside
    assert not dkim.should_sign("forward", "")  # an alias forward of outside mail


def test_mx_door_mail_forwarded_out_leaves_unsigned(example_com, dns, settings):
    dkimkeys.create_key(example_com)
    with FakeSMTP() as mx:
        dns.zones["example.net"] = {"MX": [(10, "mx.example.net")]}
        dns.zones["mx.example.net"] = {"A": ["127.0.0.1"]}
        settings.MAILAPP_REMOTE_SMTP_PORT = mx.port
        queue_id = submit(message(sender="alice@example.com", to="carol@example.net"),
                          Envelope(sender="alice@example.com", recipients=["carol@example.net"], source="smtp"),
                          enqueue=False)
        assert runner.run(queue_id) == "done"
        assert not mx.messages[0].data.startswith(b"DKIM-Signature:")


def test_submitted_over_smtps_leaves_signed(smtp_agent, example_com, dns, settings, tmp_path):
    from tests.conftest import PASSWORD

    key = dkimkeys.create_key(example_com)
    name = publish(dns, key)
    agent = smtp_agent()
    with FakeSMTP() as mx:
        dns.zones["example.net"] = {"MX": [(10, "mx.example.net")]}
        dns.zones["mx.example.net"] = {"A": ["127.0.0.1"]}
        settings.MAILAPP_REMOTE_SMTP_PORT = mx.port
        with agent.smtps() as client:
            client.login("alice@example.com", PASSWORD)
            client.sendmail("alice@example.com", ["carol@example.net"],
                            message(sender="alice@example.com", to="carol@example.net"))
        runner.run_due()
        sent = mx.messages[0].data
    assert "dkim=pass" in opendkim_verdict(tmp_path, sent, dns, name)
