"""User A cannot see or act on user B's mail or settings by changing ids in URLs."""

from tests.webmail.conftest import message
from webadmin.models import Filter, Mailbox


def test_alice_cannot_read_bobs_message_by_uid(alice, bob_store, alice_store):
    _, uid = bob_store.deliver(message(subject="Bob's secret", to="bob@example.com"))
    for url in (
        f"/mail/message/{uid}/?folder=INBOX",
        f"/mail/message/{uid}/body/?folder=INBOX",
        f"/mail/message/{uid}/part/?folder=INBOX&part=1",
        f"/mail/message/{uid}/source/?folder=INBOX",
    ):
        response = alice.get(url)
        assert response.status_code == 404, url
        assert b"secret" not in response.content


def test_folder_names_cannot_climb_into_another_mailbox(alice, bob_store, alice_store):
    _, uid = bob_store.deliver(message(subject="Bob's secret"))
    for folder in ("../bob", "../../example.com/bob", "/../bob/INBOX", "..", "INBOX/../../bob"):
        response = alice.get(f"/mail/message/{uid}/source/", {"folder": folder})
        assert response.status_code == 404, folder
        assert b"secret" not in alice.get("/mail/", {"folder": folder}).content


def test_alice_cannot_move_delete_or_flag_bobs_messages(alice, bob_store, alice_store):
    _, uid = bob_store.deliver(message(subject="keep me"))
    for action in ("delete", "read", "flag", "move"):
        alice.post("/mail/actions/", {"folder": "INBOX", "uid": uid, "action": action, "dest": "Junk"})
    inbox = bob_store.folder("INBOX")
    assert [m.uid for m in inbox.messages()] == [uid]
    assert inbox.meta(uid).flags == frozenset()


def test_alice_cannot_reply_to_or_forward_bobs_message(alice, bob_store, alice_store):
    _, uid = bob_store.deliver(message(subject="Bob's secret", body="the secret body\r\n"))
    page = alice.get("/mail/compose/", {"mode": "forward", "folder": "INBOX", "uid": uid}).content
    assert b"secret" not in page


def test_alice_cannot_see_or_change_bobs_filters(alice):
    bob = Mailbox.objects.get(local_part="bob")
    rule = Filter.objects.create(mailbox=bob, name="bob rule", actions=[{"action": "flag"}])
    assert alice.get(f"/mail/settings/filters/{rule.pk}/").status_code == 404
    response = alice.post(f"/mail/settings/filters/{rule.pk}/", {"delete": "1"})
    assert response.status_code == 404
    assert Filter.objects.filter(pk=rule.pk).exists()
    assert b"bob rule" not in alice.get("/mail/settings/").content
