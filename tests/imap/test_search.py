"""SEARCH: every key, charsets, sequence sets and UID SEARCH."""

import pytest

from tests.imap.conftest import message


@pytest.fixture
def imap(imap_server):
    imap_server.deliver(message("Invoice 42", body="Please pay soon.\r\n", sender="billing@shop.example"))
    imap_server.deliver(message("Lunch?", body="Pizza at noon?\r\n", sender="bob@example.com",
                                extra="Cc: dave@example.org\r\nX-Priority: 1\r\n"))
    imap_server.deliver(message("Grüße", body="Viele Grüße\r\n", sender="erika@example.de"))
    imap_server.deliver(message("=?utf-8?q?Caf=C3=A9?=", body="coffee\r\n", sender="barista@cafe.example"))
    imap = imap_server.login()
    imap.select("INBOX")
    imap.store("2", "+FLAGS", "(\\Flagged \\Seen)")
    return imap


def search(imap, *criteria, charset=None):
    if criteria and isinstance(criteria[-1], bytes) and not criteria[-1].isascii():
        imap.literal = criteria[-1]  # imaplib sends it as a literal after the other arguments
        criteria = criteria[:-1]
    typ, data = imap.search(charset, *criteria)
    assert typ == "OK"
    return [int(n) for n in data[0].split()]


def test_header_keys(imap):
    assert search(imap, "FROM", "billing") == [1]
    assert search(imap, "SUBJECT", "lunch") == [2]
    assert search(imap, "TO", "alice") == [1, 2, 3, 4]
    assert search(imap, "CC", "dave") == [2]
    assert search(imap, "HEADER", "X-Priority", "1") == [2]
    assert search(imap, "BCC", "nobody") == []


def test_encoded_subject_is_searched_decoded(imap):
    assert search(imap, "SUBJECT", "café".encode(), charset="UTF-8") == [4]


def test_body_and_text(imap):
    assert search(imap, "BODY", "pizza") == [2]
    assert search(imap, "TEXT", "billing") == [1]
    assert search(imap, "BODY", "billing") == []


def test_charset_utf8_literal(imap):
    assert search(imap, "BODY", "Grüße".encode(), charset="UTF-8") == [3]


def test_unknown_charset_is_badcharset(imap):
    typ, data = imap._simple_command("SEARCH", "CHARSET", "X-NOPE", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]


def test_flag_keys(imap):
    assert search(imap, "FLAGGED") == [2]
    assert search(imap, "UNSEEN") == [1, 3, 4]
    assert search(imap, "NOT", "SEEN", "NOT", "FLAGGED") == [1, 3, 4]
    assert search(imap, "OR", "FLAGGED", "FROM", "erika") == [2, 3]
    assert search(imap, "(OR SEEN DELETED)") == [2]
    assert search(imap, "ANSWERED") == [] and search(imap, "UNANSWERED") == [1, 2, 3, 4]
    assert search(imap, "KEYWORD", "$x") == [] and search(imap, "UNKEYWORD", "$x") == [1, 2, 3, 4]
    assert search(imap, "NEW") == [1, 3, 4] and search(imap, "OLD") == [] and search(imap, "RECENT") == [1, 2, 3, 4]
    assert search(imap, "DRAFT") == [] and search(imap, "UNDRAFT") == [1, 2, 3, 4]
    assert search(imap, "DELETED") == [] and search(imap, "UNDELETED") == [1, 2, 3, 4]
    assert search(imap, "UNFLAGGED") == [1, 3, 4]


def test_size_date_and_sets(imap):
    assert search(imap, "LARGER", "1") == [1, 2, 3, 4]
    assert search(imap, "SMALLER", "10") == []
    assert search(imap, "SINCE", "1-Jan-2000") == [1, 2, 3, 4]
    assert search(imap, "BEFORE", "1-Jan-2000") == []
    assert search(imap, "ON", "1-Jan-2000") == []
    assert search(imap, "SENTON", "23-Nov-2026") == [1, 2, 3, 4]
    assert search(imap, "SENTBEFORE", "23-Nov-2026") == [] and search(imap, "SENTSINCE", "23-Nov-2026") == [1, 2, 3, 4]
    assert search(imap, "2:3") == [2, 3]
    assert search(imap, "UID", "3:*") == [3, 4]
    assert search(imap, "ALL") == [1, 2, 3, 4]


def test_uid_search_returns_uids(imap):
    imap.store("1", "+FLAGS", "\\Deleted")
    imap.expunge()
    typ, data = imap.uid("SEARCH", "ALL")
    assert data[0] == b"2 3 4"


def test_malformed_search_is_bad(imap):
    for args in (("FROM",), ("SINCE", "yesterday"), ("(ALL",), ("BOGUS",), ("LARGER", "x")):
        with pytest.raises(imap.error, match="BAD"):
            imap._simple_command("SEARCH", *args)


def test_charset_iso_8859_1(imap):
    imap.literal = "Grüße".encode("iso-8859-1")
    typ, data = imap.search("ISO-8859-1", "BODY")
    assert typ == "OK" and data[0] == b"3"
