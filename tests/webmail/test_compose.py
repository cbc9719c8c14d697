"""Writing mail: queued as an authenticated submission, copies in Sent and Drafts, replies and forwards."""

import email
from email import policy

from django.core.files.uploadedfile import SimpleUploadedFile

from agents.models import QueueMessage
from agents.queue import spool
from tests.webmail.conftest import message


def _queued(subject: str) -> tuple[QueueMessage, email.message.EmailMessage]:
    row = QueueMessage.objects.get(subject=subject)
    return row, email.message_from_bytes(spool.read(row.queue_id), policy=policy.default)


def _sent_copies(store):
    folder = store.folder("Sent")
    return [email.message_from_bytes(folder.read(m.uid), policy=policy.default) for m in folder.messages()]


def test_a_message_with_an_attachment_is_queued_and_kept_in_sent(alice, alice_store):
    response = alice.post(
        "/mail/compose/",
        {
            "from_addr": "alice@example.com",
            "to": "Bob <bob@example.com>, carol@example.net",
            "bcc": "dave@example.net",
            "subject": "Report ✓",
            "body": "Here it is.",
            "attachments": SimpleUploadedFile("report.csv", b"a,b\n1,2\n", content_type="text/html"),
            "send": "1",
        },
    )
    assert response.status_code == 302
    row, sent = _queued("Report ✓")
    assert row.source == "webmail" and row.auth_user == "alice@example.com" and row.sender == "alice@example.com"
    recipients = sorted(r.address for r in row.recipients.all())
    assert recipients == ["bob@example.com", "carol@example.net", "dave@example.net"]
    assert "Bcc" not in sent
    attachment = next(sent.iter_attachments())
    assert attachment.get_filename() == "report.csv" and attachment.get_content_type() == "text/csv"
    copies = _sent_copies(alice_store)
    assert len(copies) == 1 and copies[0]["Bcc"] == "dave@example.net"
    assert "\\Seen" in alice_store.folder("Sent").messages()[0].flags


def test_sending_as_someone_else_is_refused_like_port_587(alice, alice_store):
    response = alice.post(
        "/mail/compose/",
        {"from_addr": "bob@example.com", "to": "carol@example.net", "subject": "spoof", "body": "x", "send": "1"},
    )
    assert response.status_code == 400
    assert b"You may not send as bob@example.com" in response.content
    assert not QueueMessage.objects.exists()


def test_a_reply_threads_and_marks_the_original_answered(alice, alice_store):
    _, uid = alice_store.deliver(message(subject="Lunch?", body="Shall we?\r\n"))
    form = alice.get("/mail/compose/", {"mode": "reply", "folder": "INBOX", "uid": uid}).content.decode()
    assert "Re: Lunch?" in form and "&gt; Shall we?" in form
    original_id = alice_store.folder("INBOX").summaries([uid])[0].message_id
    alice.post(
        "/mail/compose/",
        {
            "mode": "reply", "source_folder": "INBOX", "source_uid": uid, "from_addr": "alice@example.com",
            "to": "bob@example.com", "subject": "Re: Lunch?", "body": "Yes!", "in_reply_to": original_id,
            "references": original_id, "send": "1",
        },
    )  # fmt: skip
    _, sent = _queued("Re: Lunch?")
    assert sent["In-Reply-To"] == original_id
    assert "\\Answered" in alice_store.folder("INBOX").meta(uid).flags


def test_reply_all_leaves_out_the_user_and_keeps_the_others(alice, alice_store):
    raw = message(subject="Plan", to="alice@example.com, carol@example.net", extra="Cc: dave@example.net\r\n")
    _, uid = alice_store.deliver(raw)
    form = alice.get("/mail/compose/", {"mode": "replyall", "folder": "INBOX", "uid": uid}).content.decode()
    assert "carol@example.net" in form and "dave@example.net" in form
    to_field = form.split('name="to" value="')[1].split('"')[0]
    assert "alice@example.com" not in to_field


def test_forward_as_attachment_attaches_the_original(alice, alice_store):
    _, uid = alice_store.deliver(message(subject="Original"))
    alice.post(
        "/mail/compose/",
        {
            "mode": "forward_attach", "source_folder": "INBOX", "source_uid": uid, "from_addr": "alice@example.com",
            "to": "carol@example.net", "subject": "Fwd: Original", "body": "FYI", "send": "1",
        },
    )  # fmt: skip
    _, sent = _queued("Fwd: Original")
    attached = [p for p in sent.iter_attachments() if p.get_content_type() == "message/rfc822"]
    assert attached and attached[0].get_content()["Subject"] == "Original"


def test_inline_forward_carries_the_original_attachments(alice, alice_store):
    raw = (
        b"From: bob@example.com\r\nTo: alice@example.com\r\nSubject: Pics\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="q"\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nlook\r\n'
        b'--q\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename="a.png"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--q--\r\n"
    )
    _, uid = alice_store.deliver(raw)
    form = alice.get("/mail/compose/", {"mode": "forward", "folder": "INBOX", "uid": uid}).content.decode()
    assert "Fwd: Pics" in form and 'name="keep_part" value="2"' in form
    alice.post(
        "/mail/compose/",
        {
            "mode": "forward", "source_folder": "INBOX", "source_uid": uid, "keep_part": "2",
            "from_addr": "alice@example.com", "to": "carol@example.net", "subject": "Fwd: Pics", "body": "x",
            "send": "1",
        },
    )  # fmt: skip
    _, sent = _queued("Fwd: Pics")
    assert [p.get_filename() for p in sent.iter_attachments()] == ["a.png"]


def test_a_draft_is_saved_in_drafts_and_replaced_when_sent(alice, alice_store):
    response = alice.post(
        "/mail/compose/",
        {"from_addr": "alice@example.com", "to": "bob@example.com", "subject": "Later", "body": "wip",
         "save_draft": "1"},
    )  # fmt: skip
    drafts = alice_store.folder("Drafts")
    [meta] = drafts.messages()
    assert {"\\Draft", "\\Seen"} <= meta.flags
    assert response["Location"].startswith(f"/mail/message/{meta.uid}/")
    form = alice.get("/mail/compose/", {"mode": "draft", "folder": "Drafts", "uid": meta.uid}).content.decode()
    assert 'value="Later"' in form and "wip" in form
    alice.post(
        "/mail/compose/",
        {"mode": "draft", "source_folder": "Drafts", "source_uid": meta.uid, "from_addr": "alice@example.com",
         "to": "bob@example.com", "subject": "Later", "body": "done", "send": "1"},
    )  # fmt: skip
    assert alice_store.folder("Drafts").messages() == []
    assert QueueMessage.objects.filter(subject="Later").exists()


def test_a_draft_keeps_its_attachment_when_continued_and_sent(alice, alice_store):
    alice.post(
        "/mail/compose/",
        {"from_addr": "alice@example.com", "to": "bob@example.com", "subject": "With file", "body": "wip",
         "attachments": SimpleUploadedFile("notes.txt", b"my notes"), "save_draft": "1"},
    )  # fmt: skip
    [meta] = alice_store.folder("Drafts").messages()
    form = alice.get("/mail/compose/", {"mode": "draft", "folder": "Drafts", "uid": meta.uid}).content.decode()
    assert "notes.txt" in form and 'name="keep_part" value="2"' in form
    alice.post(
        "/mail/compose/",
        {"mode": "draft", "source_folder": "Drafts", "source_uid": meta.uid, "keep_part": "2",
         "from_addr": "alice@example.com", "to": "bob@example.com", "subject": "With file", "body": "done",
         "send": "1"},
    )  # fmt: skip
    _, sent = _queued("With file")
    [attachment] = sent.iter_attachments()
    assert attachment.get_filename() == "notes.txt" and attachment.get_content() == "my notes"


def test_oversized_uploads_are_refused_before_they_are_read(alice, alice_store, settings):
    settings.MAILAPP_MAX_MESSAGE_SIZE = 1000
    response = alice.post(
        "/mail/compose/",
        {"from_addr": "alice@example.com", "to": "bob@example.com", "subject": "big", "body": "x",
         "attachments": SimpleUploadedFile("big.bin", b"x" * 5000), "send": "1"},
    )  # fmt: skip
    assert response.status_code == 400 and b"larger than a message may be" in response.content
    assert not QueueMessage.objects.exists()


def test_a_user_with_a_unicode_address_can_send(example_com, make_mailbox, login):
    make_mailbox("jürgen@bücher.example", name="Jürgen")
    client = login("jürgen@bücher.example")
    response = client.post(
        "/mail/compose/",
        {"from_addr": "jürgen@xn--bcher-kva.example", "to": "bob@example.com", "subject": "Grüße", "body": "Hallo",
         "send": "1"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:300]
    row, sent = _queued("Grüße")
    assert row.sender == "jürgen@xn--bcher-kva.example"
    assert "Jürgen" in str(sent["From"])


def test_forwarding_a_draft_leaves_the_draft_in_place(alice, alice_store):
    alice_store.folder("Drafts").append(message(subject="keep this draft"), ["\\Draft", "\\Seen"])
    [meta] = alice_store.folder("Drafts").messages()
    alice.post(
        "/mail/compose/",
        {"mode": "forward", "source_folder": "Drafts", "source_uid": meta.uid, "from_addr": "alice@example.com",
         "to": "bob@example.com", "subject": "Fwd: keep this draft", "body": "x", "send": "1"},
    )  # fmt: skip
    assert [m.uid for m in alice_store.folder("Drafts").messages()] == [meta.uid]
