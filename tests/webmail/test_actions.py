"""Message list and actions: newest first, paging, sorting, search, move, delete, marks, folders."""

from tests.webmail.conftest import message


def _fill(store, count, folder="INBOX"):
    for number in range(count):
        store.deliver(
            message(subject=f"Subject {number:03d}", body=f"body words {number}\r\n", sender=f"s{number}@example.org"),
            folder=folder,
        )


def _subjects(page: str) -> list[str]:
    return [chunk.split("<")[0] for chunk in page.split("Subject ")[1:] if chunk[:3].isdigit()]


def test_the_list_is_newest_first_and_paginated(alice, alice_store):
    _fill(alice_store, 60)
    first = alice.get("/mail/", {"folder": "INBOX"}).content.decode()
    assert _subjects(first)[0] == "059" and len(_subjects(first)) == 50
    assert "Page 1 of 2" in first and "60 messages" in first
    second = alice.get("/mail/", {"folder": "INBOX", "page": 2}).content.decode()
    assert _subjects(second) == [f"{n:03d}" for n in range(9, -1, -1)]


def test_the_list_sorts_by_subject_ascending_without_case(alice, alice_store):
    for subject in ("banana", "Apple", "cherry"):
        alice_store.deliver(message(subject=subject))
    page = alice.get("/mail/", {"folder": "INBOX", "sort": "subject", "dir": "asc"}).content.decode()
    assert page.index("Apple") < page.index("banana") < page.index("cherry")


def test_search_results_sort_like_the_folder(alice, alice_store):
    for subject in ("match banana", "match Apple", "other", "match cherry"):
        alice_store.deliver(message(subject=subject))
    page = alice.get("/mail/", {"folder": "INBOX", "q": "match", "sort": "subject", "dir": "desc"}).content.decode()
    assert page.index("match cherry") < page.index("match banana") < page.index("match Apple")
    assert "other" not in page.split("<tbody>")[1]


def test_search_finds_by_sender_subject_and_body(alice, alice_store):
    _fill(alice_store, 5)
    assert _subjects(alice.get("/mail/", {"folder": "INBOX", "q": "s3@example"}).content.decode()) == ["003"]
    assert _subjects(alice.get("/mail/", {"folder": "INBOX", "q": "subject 004"}).content.decode()) == ["004"]
    body_hits = alice.get("/mail/", {"folder": "INBOX", "q": "words 2", "scope": "body"}).content.decode()
    assert _subjects(body_hits) == ["002"]


def test_move_delete_to_trash_and_empty_trash(alice, alice_store):
    alice.post("/mail/folders/", {"op": "create", "name": "Projects"})
    _, first = alice_store.deliver(message(subject="one"))
    _, second = alice_store.deliver(message(subject="two"))
    alice.post("/mail/actions/", {"folder": "INBOX", "uid": [first], "action": "move", "dest": "Projects"})
    assert [s.subject for s in alice_store.folder("Projects").page()] == ["one"]
    alice.post("/mail/actions/", {"folder": "INBOX", "uid": [second], "action": "delete"})
    assert alice_store.folder("INBOX").messages() == []
    assert [s.subject for s in alice_store.folder("Trash").page()] == ["two"]
    alice.post("/mail/actions/", {"folder": "Trash", "action": "empty_trash"})
    assert alice_store.folder("Trash").messages() == []


def test_mark_read_unread_and_flag(alice, alice_store):
    _, uid = alice_store.deliver(message())
    inbox = alice_store.folder("INBOX")
    alice.post("/mail/actions/", {"folder": "INBOX", "uid": uid, "action": "read"})
    assert "\\Seen" in inbox.meta(uid).flags
    alice.post("/mail/actions/", {"folder": "INBOX", "uid": uid, "action": "flag"})
    alice.post("/mail/actions/", {"folder": "INBOX", "uid": uid, "action": "unread"})
    assert inbox.meta(uid).flags == frozenset({"\\Flagged"})


def test_unread_counts_show_in_the_folder_list(alice, alice_store):
    _fill(alice_store, 3)
    page = alice.get("/mail/").content.decode()
    assert '<span class="badge" title="unread">3</span>' in page


def test_folders_are_created_renamed_and_deleted(alice, alice_store):
    alice.post("/mail/folders/", {"op": "create", "name": "Lists/Django"})
    assert alice_store.exists("Lists/Django")
    alice.post("/mail/folders/", {"op": "rename", "name": "Lists/Django", "new_name": "Lists/Python"})
    assert alice_store.exists("Lists/Python") and not alice_store.exists("Lists/Django")
    alice.post("/mail/folders/", {"op": "delete", "name": "Lists/Python"})
    assert not alice_store.exists("Lists/Python")


def test_special_folders_cannot_be_renamed_or_deleted(alice, alice_store):
    alice.post("/mail/folders/", {"op": "delete", "name": "Trash"})
    alice.post("/mail/folders/", {"op": "rename", "name": "Sent", "new_name": "Gone"})
    names = [f.name for f in alice_store.list_folders()]
    assert "Trash" in names and "Sent" in names and "Gone" not in names


def test_bad_folder_names_are_refused_with_a_message(alice, alice_store):
    for name in ("../escape", "a/../../b", "/abs", "x\x01y"):
        response = alice.post("/mail/folders/", {"op": "create", "name": name}, follow=True)
        assert response.status_code == 200
    assert {f.name for f in alice_store.list_folders()} == {"INBOX", "Drafts", "Sent", "Junk", "Trash"}


def test_actions_need_csrf(example_com, alice_store):
    from django.test import Client

    from tests.conftest import PASSWORD

    client = Client(enforce_csrf_checks=True)
    page = client.get("/mail/login/")
    token = page.cookies["csrftoken"].value
    client.post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD, "csrfmiddlewaretoken": token})
    _, uid = alice_store.deliver(message())
    response = client.post("/mail/actions/", {"folder": "INBOX", "uid": uid, "action": "delete"})
    assert response.status_code == 403
    assert len(alice_store.folder("INBOX").messages()) == 1


def test_search_in_sent_looks_at_recipients(alice, alice_store):
    alice_store.folder("Sent").append(message(subject="To carol", to="carol@example.net"), ["\\Seen"])
    alice_store.folder("Sent").append(message(subject="To dave", to="dave@example.net"), ["\\Seen"])
    page = alice.get("/mail/", {"folder": "Sent", "q": "carol@"}).content.decode()
    assert "To carol" in page and "To dave" not in page


def test_the_sidebar_shows_usage_against_the_quota(alice, alice_store):
    from webadmin.models import Mailbox

    Mailbox.objects.filter(local_part="alice").update(quota=10 * 1024 * 1024)
    from agents import config

    config.invalidate()
    alice_store.deliver(message(body="x" * 5000))
    page = alice.get("/mail/").content.decode()
    assert "of 10.0 MiB used" in page  # the one size formatter (webadmin.units), as on the dashboard


def test_unicode_folder_names_work_end_to_end(alice, alice_store):
    alice.post("/mail/folders/", {"op": "create", "name": "Rechnungen/Büro & Co"})
    alice_store.deliver(message(subject="invoice"), folder="Rechnungen/Büro & Co")
    page = alice.get("/mail/", {"folder": "Rechnungen/Büro & Co"}).content.decode()
    assert "invoice" in page and "Büro &amp; Co" in page


def test_the_status_endpoint_gives_this_mailbox_counts_only(alice, alice_store, bob_store):
    _fill(alice_store, 2)
    _fill(bob_store, 7)
    data = alice.get("/mail/status/").json()
    inbox = next(f for f in data["folders"] if f["name"] == "INBOX")
    assert inbox == {"name": "INBOX", "exists": 2, "unseen": 2}


def test_lists_and_sorts_come_from_the_index_not_the_message_files(alice, alice_store):
    _fill(alice_store, 60)
    inbox_dir = alice_store.path
    # Blank every message file in place (directory mtimes unchanged, so no rescan): a list
    # that opened files would now show no subjects.
    files = list((inbox_dir / "cur").iterdir()) + list((inbox_dir / "new").iterdir())
    assert len(files) == 60
    for path in files:
        path.write_bytes(b"X: y\r\n\r\n")
    for params in ({}, {"page": 2}, {"sort": "subject", "dir": "asc"}, {"sort": "date"}, {"q": "Subject 05"}):
        page = alice.get("/mail/", {"folder": "INBOX", **params}).content.decode()
        assert _subjects(page), params
    assert "Subject 000" in alice.get("/mail/", {"folder": "INBOX", "sort": "subject", "dir": "asc"}).content.decode()
