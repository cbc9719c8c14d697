"""No header can be smuggled in through any compose field."""

import pytest

from agents.models import QueueMessage
from webadmin.webmail import compose

ATTACKS = [
    ("subject", "Hello\r\nBcc: victim@example.net"),
    ("subject", "Hello\nX-Evil: 1"),
    ("subject", "Hello\rX-Evil: 1"),
    ("to", "bob@example.com\r\nBcc: victim@example.net"),
    ("cc", "bob@example.com\nSubject: other"),
    ("bcc", "x@example.net\r\n\r\nbody"),
    ("from_addr", "alice@example.com\r\nBcc: victim@example.net"),
    ("in_reply_to", "<a@b>\r\nBcc: victim@example.net"),
    ("references", "<a@b>\nX-Evil: 1"),
    ("to", "bob@example.com\x00"),
]


@pytest.mark.parametrize(("field", "value"), ATTACKS)
def test_line_breaks_in_any_field_are_refused(alice, alice_store, field, value):
    data = {"from_addr": "alice@example.com", "to": "bob@example.com", "subject": "s", "body": "b", "send": "1"}
    data[field] = value
    response = alice.post("/mail/compose/", data)
    assert response.status_code == 400
    assert not QueueMessage.objects.exists()
    assert alice_store.folder("Sent").messages() == []


def test_invalid_addresses_are_refused_with_a_clear_message(alice, alice_store):
    response = alice.post(
        "/mail/compose/", {"from_addr": "alice@example.com", "to": "not an address", "body": "b", "send": "1"}
    )
    assert response.status_code == 400 and b"is not a mail address" in response.content


def test_an_uploaded_file_name_cannot_inject_headers():
    upload = compose.upload_from_file("a\r\nX-Evil: 1.txt", b"x")
    assert "\r" not in upload.filename and "\n" not in upload.filename


def test_the_body_can_hold_header_lookalikes_harmlessly():
    draft = compose.Draft(from_addr="alice@example.com", to="bob@example.com", subject="s", body="\r\nBcc: x@y.z\r\n")
    raw = compose.to_bytes(compose.build_message(draft, sender_name="", include_bcc=False))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Bcc" not in head and b"Bcc: x@y.z" in body


def test_a_display_name_with_line_breaks_is_refused():
    draft = compose.Draft(from_addr="alice@example.com", to="bob@example.com")
    with pytest.raises(compose.ComposeError):
        compose.build_message(draft, sender_name="Alice\r\nBcc: x@y.z", include_bcc=False)
