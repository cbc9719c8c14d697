"""The message renderer never raises on malformed, oversized or hostile messages."""

from __future__ import annotations

import pytest

from webadmin.webmail import render

MALFORMED = [
    b"",
    b"\x00\x01\x02 not a message at all \xff\xfe",
    b"Subject: no body separator",
    b"Content-Type: multipart/mixed; boundary=\"never\"\r\n\r\nno parts at all\r\n",
    b"Content-Type: multipart/mixed\r\n\r\n--\r\n--\r\n",  # no boundary parameter
    b"Content-Type: text/plain; charset=\"\x00\"\r\n\r\nnul charset\r\n",
    b"Content-Type: text/html; charset=utf-7\r\n\r\n+ADw-script+AD4-alert(1)+ADw-/script+AD4-\r\n",
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!! not base64 ====\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=0\r\n",
    b"Subject: =?utf-8?b?broken?= =?unknown-charset?q?x?= =?utf-8?q?=FF=FE?=\r\nFrom: =?x?q?\r\n\r\nb",
    b"From: \"unterminated <a@b\r\nTo: ,,,,@,@@\r\nCc: <<<>>>\r\n\r\nb",
    b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nx",
    b"Subject: " + b"A" * 200_000 + b"\r\n\r\nlong header",
    b"Content-Disposition: attachment; filename*=utf-8''%FF%FE%00..%2F..%2Fetc%2Fpasswd\r\n\r\nx",
]


@pytest.mark.parametrize("raw", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_messages_render_without_error(raw):
    shown = render.render(raw)
    assert isinstance(shown.subject, str)
    for attachment in shown.attachments:
        assert "/" not in attachment.filename and "\x00" not in attachment.filename


def test_utf7_html_is_not_decoded_into_a_script():
    shown = render.render(MALFORMED[6])
    assert "<script" not in (shown.html or "")


def test_deeply_nested_multiparts_are_handled():
    depth = 200
    head = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth))
    raw = (head + "Content-Type: text/plain\r\n\r\ndeep\r\n" + "".join(f"--b{i}--\r\n" for i in reversed(range(depth))))
    shown = render.render(raw.encode())
    assert "deep" in (shown.text or "")


def test_huge_html_is_cut_and_sanitised():
    html = "<p onclick=x><script>alert(1)</script>" + "<b>bold</b>" * 400_000 + "<script>alert(2)</script>"
    raw = f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}".encode()
    shown = render.render(raw).html or ""
    assert shown.startswith("<p><b>bold</b>") and len(shown) <= render.MAX_HTML  # cut, then sanitised
    assert "<script" not in shown and "onclick" not in shown and "alert" not in shown


def test_content_disposition_is_rfc6266_and_header_safe():
    value = render.content_disposition('ré"sumé\r\n;.pdf')
    assert value.startswith('attachment; filename="r__sum')
    assert "filename*=UTF-8''r%C3%A9%22sum%C3%A9%0D%0A%3B.pdf" in value
    assert "\r" not in value and "\n" not in value


def test_every_page_of_a_malformed_message_answers_without_a_server_error(alice, alice_store):
    for raw in MALFORMED:
        _, uid = alice_store.deliver(raw or b"\r\n")
        for url, params in (
            (f"/mail/message/{uid}/", {"folder": "INBOX"}),
            (f"/mail/message/{uid}/body/", {"folder": "INBOX"}),
            (f"/mail/message/{uid}/part/", {"folder": "INBOX", "part": "1"}),
            ("/mail/compose/", {"mode": "replyall", "folder": "INBOX", "uid": uid}),
            ("/mail/compose/", {"mode": "forward", "folder": "INBOX", "uid": uid}),
        ):
            assert alice.get(url, params).status_code in (200, 404), (raw[:40], url)
    assert alice.get("/mail/", {"folder": "INBOX"}).status_code == 200


def test_huge_numbers_in_urls_and_forms_are_not_found_rather_than_errors(alice, alice_store):
    huge = "9" * 30
    assert alice.get(f"/mail/message/{huge}/", {"folder": "INBOX"}).status_code == 404
    assert alice.get(f"/mail/message/{huge}/part/", {"folder": "INBOX", "part": huge}).status_code == 404
    assert alice.get("/mail/", {"folder": "INBOX", "page": "9" * 5000}).status_code == 200
    assert alice.get("/mail/compose/", {"mode": "reply", "folder": "INBOX", "uid": huge}).status_code == 200
    assert alice.post("/mail/actions/", {"folder": "INBOX", "uid": huge, "action": "read"}).status_code == 302


def test_hostile_request_parameters_get_clear_answers(alice, alice_store):
    for folder in ("\x00", "a" * 100_000, "INBOX\r\nX: y", "%2e%2e", "Trash/..", "*", "%"):
        assert alice.get("/mail/", {"folder": folder}).status_code in (200, 404), folder[:20]
        assert alice.post("/mail/folders/", {"op": "create", "name": folder}).status_code == 302
    for params in ({"sort": "nope", "dir": "sideways"}, {"q": "x" * 1_000_000}, {"scope": "body", "q": "\x00"}):
        assert alice.get("/mail/", {"folder": "INBOX", **params}).status_code == 200
    filter_post = {"name": "x" * 500, "cond0_field": "nope", "cond0_op": "gt", "act0_action": "autoreply",
                   "act0_days": "many", "act0_body": ""}  # fmt: skip
    assert alice.post("/mail/settings/filters/new/", filter_post).status_code == 400
    vacation = {"what": "vacation", "days": "-1", "body": "x", "active": "1"}
    assert alice.post("/mail/settings/", vacation).status_code == 302
    assert alice.post("/mail/settings/", {"what": "unknown"}).status_code == 302
    assert alice.post("/mail/login/", {"address": "a" * 100_000, "password": "p" * 100_000}).status_code == 403
