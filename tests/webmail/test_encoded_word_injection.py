"""An RFC 2047 encoded word hiding a line break cannot add a header (CVE-2024-6923).

The raw field text holds no CR/LF, so only a check of the decoded form stops it:
Python's email generator decodes and refolds such a word and writes the newline out.
"""

import email
import html
import re
from email import policy

import pytest

from agents.models import QueueMessage
from agents.queue import spool
from tests.webmail.conftest import message

Q_BCC = "=?UTF-8?Q?x=0ABcc:_victim@ext.invalid?="
Q_FROM = "=?UTF-8?Q?x=0AFrom:_ceo@bank.example?="
B_BCC = "=?UTF-8?B?eApCY2M6IHZpY3RpbUBleHQuaW52YWxpZA==?="
B_FROM = "=?utf-8?b?eA0KRnJvbTogY2VvQGJhbmsuZXhhbXBsZQ==?="
WORDS = [Q_BCC, Q_FROM, B_BCC, B_FROM, "=?ISO-8859-1?q?x=0D=0AX-Evil:_1?=", "=?UTF-8?Q?tab=09ok_but_nul=00?="]


def _post(client, **fields):
    data = {"from_addr": "alice@example.com", "to": "bob@example.com", "subject": "s", "body": "b", "send": "1"}
    data.update(fields)
    return client.post("/mail/compose/", data)


@pytest.mark.parametrize("word", WORDS)
def test_an_encoded_newline_in_the_subject_is_refused(alice, alice_store, word):
    response = _post(alice, subject=word)
    assert response.status_code == 400
    assert b"line breaks" in response.content
    assert not QueueMessage.objects.exists()
    assert alice_store.folder("Sent").messages() == []


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize("field", ["to", "cc", "bcc"])
def test_an_encoded_newline_in_a_display_name_is_refused(alice, alice_store, word, field):
    response = _post(alice, **{field: f"{word} <carol@example.net>"})
    assert response.status_code == 400
    assert not QueueMessage.objects.exists()


@pytest.mark.parametrize("word", [Q_BCC, B_FROM])
def test_an_encoded_newline_in_the_users_own_name_is_refused(word):
    from webadmin.webmail import compose

    draft = compose.Draft(from_addr="alice@example.com", to="bob@example.com", subject="s", body="b")
    with pytest.raises(compose.ComposeError):
        compose.build_message(draft, sender_name=word, include_bcc=False)


def test_a_harmless_encoded_subject_still_goes_out(alice, alice_store):
    _post(alice, subject="=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=")
    row = QueueMessage.objects.get()
    sent = email.message_from_bytes(spool.read(row.queue_id), policy=policy.default)
    assert sent["Subject"] == "Grüße"


@pytest.mark.parametrize("word", [Q_BCC, B_FROM])
def test_a_reply_to_a_hostile_reply_to_goes_only_to_its_address(alice, alice_store, word):
    """The reply goes to the original's Reply-To, whose display name hides a newline and a
    second address: the form offers only the real address, and what is sent adds no header."""
    raw = message(subject="Lunch?", extra=f"Reply-To: {word} <mallory@example.org>\r\n")
    _, uid = alice_store.deliver(raw)
    form = alice.get("/mail/compose/", {"mode": "reply", "folder": "INBOX", "uid": uid}).content.decode()
    to_field = html.unescape(form.split('name="to" value="')[1].split('"')[0])
    assert to_field == "mallory@example.org"
    _post(alice, to=to_field, subject="Re: Lunch?")
    head = spool.read(QueueMessage.objects.get().queue_id).split(b"\r\n\r\n")[0].lower()
    assert b"\r\nbcc:" not in head and len(re.findall(rb"(?m)^from:", head)) == 1


def test_a_reply_keeps_a_quoted_display_name_with_a_comma(alice, alice_store):
    _, uid = alice_store.deliver(message(sender='"Example, Bob" <bob@example.com>', subject="Hi"))
    form = alice.get("/mail/compose/", {"mode": "reply", "folder": "INBOX", "uid": uid}).content.decode()
    assert html.unescape(form.split('name="to" value="')[1].split('"')[0]) == '"Example, Bob" <bob@example.com>'


@pytest.mark.parametrize("word", [Q_BCC, B_FROM])
def test_forwarding_a_message_with_a_hostile_subject_as_attachment_is_refused(alice, alice_store, word):
    _, uid = alice_store.deliver(message(subject=word))
    response = _post(alice, mode="forward_attach", source_folder="INBOX", source_uid=uid, subject="Fwd: x")
    assert response.status_code == 400
    assert not QueueMessage.objects.exists()

