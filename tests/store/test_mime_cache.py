"""ENVELOPE and BODYSTRUCTURE are computed at delivery and served from the index."""

from __future__ import annotations

import os

MULTIPART = b"""From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>
To: Alice <alice@example.com>, bob@example.org
Cc: Team: carol@example.net, dave@example.net;
Subject: =?iso-8859-1?q?Gr=FC=DFe?= and a report
Date: Tue, 24 Nov 2026 08:15:00 +0100
Message-ID: <report-1@example.de>
In-Reply-To: <earlier@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Gr=C3=BC=C3=9Fe
--inner
Content-Type: text/html; charset=utf-8

<p>Hi</p>
--inner--
--outer
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename*=utf-8''Bericht%20%C3%BC.pdf
Content-Transfer-Encoding: base64
Content-ID: <pdf1>

JVBERi0xLjQK
--outer
Content-Type: message/rfc822

From: inner@example.org
Subject: forwarded

inner body
--outer--
"""


def _deliver(mailbox, raw=MULTIPART):
    _, uid = mailbox.deliver(raw)
    return mailbox.folder("INBOX"), uid


def test_envelope_keeps_raw_words_and_splits_addresses(mailbox):
    inbox, uid = _deliver(mailbox)
    env = inbox.envelope(uid)
    assert env[0] == "Tue, 24 Nov 2026 08:15:00 +0100"
    assert env[1] == "=?iso-8859-1?q?Gr=FC=DFe?= and a report"
    assert env[2][0][2:] == ["joerg", "example.de"] and env[2][0][0].startswith("=?utf-8?")
    assert env[3] == env[4] == env[2]
    assert env[5] == [["Alice", None, "alice", "example.com"], [None, None, "bob", "example.org"]]
    assert env[6][0] == [None, None, "Team", None] and env[6][-1] == [None, None, None, None]
    assert env[7] is None and env[8] == "<earlier@example.com>" and env[9] == "<report-1@example.de>"


def test_bodystructure_of_nested_multipart_with_attachment(mailbox):
    # Sizes, line counts and parameters below are what Dovecot 2.3 reports for the same message.
    inbox, uid = _deliver(mailbox)
    body = inbox.bodystructure(uid)
    alternative, pdf, forwarded = body["parts"]
    assert (body["type"], body["subtype"], body["params"]) == ("multipart", "mixed", [["boundary", "outer"]])
    assert [p["subtype"] for p in alternative["parts"]] == ["plain", "html"]
    plain, html = alternative["parts"]
    assert plain["encoding"] == "QUOTED-PRINTABLE" and plain["params"] == [["charset", "utf-8"]]
    assert (plain["size"], plain["lines"], html["size"], html["lines"]) == (15, 0, 9, 0)
    assert pdf["disposition"] == ["attachment", [["filename*", "utf-8''Bericht%20%C3%BC.pdf"]]]
    assert pdf["id"] == "<pdf1>" and pdf["encoding"] == "BASE64" and pdf["size"] == 12
    assert forwarded["type"] == "message" and forwarded["envelope"][1] == "forwarded"
    assert (forwarded["size"], forwarded["lines"], forwarded["body"]["size"]) == (57, 3, 10)


def test_list_headers_are_decoded_for_webmail(mailbox):
    inbox, uid = _deliver(mailbox)
    line = inbox.page(0, 1)[0]
    assert line.subject == "Grüße and a report" and line.from_ == "Jörg Müller <joerg@example.de>"
    assert line.to == "Alice <alice@example.com>, bob@example.org"
    assert line.cc == "Team: carol@example.net, dave@example.net;"  # the group name is shown and searchable
    assert line.date.isoformat() == "2026-11-24T07:15:00+00:00" and line.has_attachments


def test_cached_data_is_served_without_the_file(mailbox):
    inbox, uid = _deliver(mailbox)
    for path in (inbox.path / "new").iterdir():
        os.unlink(path)
    assert inbox.envelope(uid)[9] == "<report-1@example.de>"
    assert inbox.bodystructure(uid)["subtype"] == "mixed"


def test_header_search_uses_the_index(mailbox):
    _deliver(mailbox)
    inbox, uid = _deliver(mailbox, b"From: x@y.z\r\nSubject: other\r\n\r\nbody\r\n")
    assert inbox.search_header("subject", "gRü") == [1]  # ASCII letters fold, on decoded text
    assert inbox.search_header("from", "JOERG@") == [1] and inbox.search_header("subject", "other") == [2]


def test_envelope_and_structure_are_json_round_trippable(mailbox):
    import json

    inbox, uid = _deliver(mailbox)
    assert json.loads(json.dumps(inbox.bodystructure(uid))) == inbox.bodystructure(uid)
