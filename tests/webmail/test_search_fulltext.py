"""Webmail body search, in one folder and across all folders, from the store's full-text index."""

from tests.webmail.conftest import message

HTML_ONLY = (b"From: shop@example.org\r\nTo: alice@example.com\r\nSubject: Your order\r\n"
             b"Content-Type: text/html\r\n\r\n<p>Tracking <b>number</b>: ZX&#55;81</p>\r\n")  # fmt: skip


def test_body_search_reads_html_as_text(alice, alice_store):
    alice_store.deliver(HTML_ONLY)
    alice_store.deliver(message(subject="Other", body="no tracking here\r\n"))
    page = alice.get("/mail/", {"folder": "INBOX", "q": "zx781", "scope": "body"}).content.decode()
    assert "Your order" in page and "Other" not in page.split("<tbody>")[1]


def test_body_search_across_all_folders(alice, alice_store):
    alice.post("/mail/folders/", {"op": "create", "name": "Archive"})
    for number in range(3):
        alice_store.deliver(message(subject=f"Old {number}", body="the quarterly numbers\r\n"), folder="Archive")
    alice_store.deliver(message(subject="Fresh", body="the quarterly numbers again\r\n"))
    alice_store.deliver(message(subject="Unrelated", body="lunch\r\n"))
    page = alice.get("/mail/", {"folder": "INBOX", "q": "QUARTERLY", "scope": "body", "where": "all"}).content.decode()
    rows = page.split("<tbody>")[1]
    assert all(subject in rows for subject in ("Old 0", "Old 1", "Old 2", "Fresh")) and "Unrelated" not in rows
