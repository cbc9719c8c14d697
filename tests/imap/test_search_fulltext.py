"""SEARCH BODY/TEXT answered from the store's full-text index, over a real IMAP connection."""

import base64

import pytest

from tests.imap.test_search import search

HTML_ONLY = (b"From: a@example.org\r\nTo: alice@example.com\r\nSubject: html\r\nContent-Type: text/html\r\n\r\n"
             b"<p>Ihr <b>Lieferschein</b> &amp; Rechnung</p><style>.hidden{}</style>\r\n")  # fmt: skip
BASE64 = (b"From: a@example.org\r\nTo: alice@example.com\r\nSubject: b64\r\nContent-Type: text/plain; charset=utf-8"
          b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
          + base64.encodebytes("Ein Gruß aus Köln, Lieferschein anbei".encode()).replace(b"\n", b"\r\n"))  # fmt: skip
SUBJECT_ONLY = b"From: a@example.org\r\nTo: alice@example.com\r\nSubject: Lieferschein\r\n\r\nnothing here\r\n"


@pytest.fixture
def imap(imap_server):
    for raw in (HTML_ONLY, BASE64, SUBJECT_ONLY):
        imap_server.deliver(raw)
    imap = imap_server.login()
    imap.select("INBOX")
    return imap


def test_body_finds_html_text_and_decoded_base64(imap):
    assert search(imap, "BODY", "lieferschein") == [1, 2]
    assert search(imap, "TEXT", "LIEFERSCHEIN") == [1, 2, 3]
    assert search(imap, "BODY", "Köln".encode(), charset="UTF-8") == [2]
    assert search(imap, "BODY", '"& rechnung"') == [1]


def test_markup_is_not_text(imap):
    assert search(imap, "BODY", "hidden") == []


def test_combined_with_other_keys_and_expunge(imap):
    assert search(imap, "NOT", "BODY", "lieferschein") == [3]
    assert search(imap, "OR", "SUBJECT", "html", "BODY", "gruß".encode(), charset="UTF-8") == [1, 2]
    imap.store("1", "+FLAGS", "(\\Deleted)")
    imap.expunge()
    assert search(imap, "BODY", "lieferschein") == [1]  # the old 2, renumbered
    typ, data = imap.uid("SEARCH", "TEXT", "lieferschein")
    assert typ == "OK" and data[0].split() == [b"2", b"3"]
