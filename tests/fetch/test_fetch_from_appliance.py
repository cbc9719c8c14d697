"""Collecting from this appliance's own IMAP and POP3 servers, over TLS: certificate checks and their switch."""

from __future__ import annotations

from agents.fetch.engine import poll
from tests.conftest import PASSWORD
from tests.fetch.conftest import inbox_subjects, message
from webadmin.models import ExternalSource


def source_for(example_com, protocol: str, port: int, tls: str, **fields: object) -> ExternalSource:
    source = ExternalSource(mailbox=example_com.mailboxes.get(local_part="alice"), protocol=protocol,
                            host=str(fields.pop("host", "127.0.0.1")), port=port, tls=tls,
                            login="bob@example.com", **fields)
    source.set_password(PASSWORD)
    source.save()
    return source


def test_imaps_self_signed_fails_with_a_hint_while_verify_is_on(example_com, imap_server):
    imap_server.deliver(message(1), user="bob@example.com")
    result = poll(source_for(example_com, "imap", imap_server.tls_port, "tls").pk)
    assert "TLS failure" in result.error and "verify certificate" in result.error
    assert result.fetched == 0


def test_imaps_with_verify_off_collects_and_deletes(example_com, imap_server, store):
    for n in (1, 2):
        imap_server.deliver(message(n), user="bob@example.com")
    source = source_for(example_com, "imap", imap_server.tls_port, "tls", verify_certificate=False, keep=False)
    result = poll(source.pk)
    assert (result.error, result.fetched, result.deleted) == ("", 2, 2)
    assert inbox_subjects(store) == ["Remote 1", "Remote 2"]
    assert inbox_subjects(store, "bob@example.com") == []


def test_imaps_trusting_the_servers_certificate_verifies(example_com, imap_server, store):
    imap_server.deliver(message(1), user="bob@example.com")
    source = source_for(example_com, "imap", imap_server.tls_port, "tls", host="localhost")
    result = poll(source.pk, cafile=str(imap_server.cert))
    assert (result.error, result.fetched) == ("", 1)


def test_pop3_starttls_from_our_own_server(example_com, pop3, store):
    for n in (1, 2, 3):
        pop3.deliver("bob@example.com", message(n))
    source = source_for(example_com, "pop3", pop3.port, "starttls", verify_certificate=False, keep=False)
    result = poll(source.pk)
    assert (result.error, result.fetched, result.deleted) == ("", 3, 3)
    assert poll(source.pk).fetched == 0
    assert inbox_subjects(store) == ["Remote 1", "Remote 2", "Remote 3"]
    assert pop3.inbox("bob@example.com").count() == 0
