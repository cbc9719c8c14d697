"""Reading a message: decoded headers and charsets, sanitised HTML in a strict frame, safe downloads."""

from tests.webmail.conftest import html_message, message


def test_rfc2047_headers_and_latin1_bodies_are_decoded(alice, alice_store):
    raw = (
        b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>\r\nTo: alice@example.com\r\n"
        b"Subject: =?iso-8859-1?q?Gr=FC=DFe_aus_K=F6ln?=\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Sch\xf6ne Gr\xfc\xdfe\r\n"
    )
    _, uid = alice_store.deliver(raw)
    page = alice.get(f"/mail/message/{uid}/?folder=INBOX").content.decode()
    assert "Grüße aus Köln" in page
    assert "Jürgen Müller" in page
    assert "Schöne Grüße" in page


def test_an_unknown_charset_still_shows_the_text(alice, alice_store):
    raw = message(body="plain words\r\n").replace(b"charset=utf-8", b"charset=x-no-such-charset")
    _, uid = alice_store.deliver(raw)
    assert b"plain words" in alice.get(f"/mail/message/{uid}/?folder=INBOX").content


def test_reading_marks_the_message_seen_in_the_store(alice, alice_store):
    _, uid = alice_store.deliver(message())
    alice.get(f"/mail/message/{uid}/?folder=INBOX")
    assert "\\Seen" in alice_store.folder("INBOX").meta(uid).flags


def test_html_is_served_in_a_sandboxed_frame_with_a_strict_policy(alice, alice_store):
    _, uid = alice_store.deliver(html_message("<p onclick='x()'>Hello <b>there</b></p><script>alert(1)</script>"))
    page = alice.get(f"/mail/message/{uid}/?folder=INBOX").content.decode()
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page
    assert "alert(1)" not in page
    frame = alice.get(f"/mail/message/{uid}/body/?folder=INBOX")
    csp = frame["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'") and "script-src" not in csp and "sandbox" in csp
    body = frame.content.decode()
    assert "<b>there</b>" in body and "onclick" not in body and "<script" not in body


def test_remote_images_are_blocked_until_asked(alice, alice_store):
    _, uid = alice_store.deliver(html_message('<img src="https://tracker.example/p.gif" alt="t">'))
    page = alice.get(f"/mail/message/{uid}/?folder=INBOX").content.decode()
    assert "remote image blocked" in page
    assert "tracker.example" not in alice.get(f"/mail/message/{uid}/body/?folder=INBOX").content.decode()
    shown = alice.get(f"/mail/message/{uid}/body/?folder=INBOX&images=1")
    assert "https://tracker.example/p.gif" in shown.content.decode()
    assert "img-src data: https:" in shown["Content-Security-Policy"]


def test_cid_images_are_inlined_as_data_urls(alice, alice_store):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    part = (
        "--b1\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{png}\r\n"
    )
    _, uid = alice_store.deliver(html_message('<img src="cid:logo@x">', extra_parts=part))
    body = alice.get(f"/mail/message/{uid}/body/?folder=INBOX").content.decode()
    assert 'src="data:image/png;base64,' in body


def _with_attachment(filename_param: str, ctype: str, payload: str) -> bytes:
    return (
        "From: bob@example.com\r\nTo: alice@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n'
        "--zz\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        f"--zz\r\nContent-Type: {ctype}\r\nContent-Disposition: attachment; {filename_param}\r\n\r\n"
        f"{payload}\r\n--zz--\r\n"
    ).encode()


def test_attachments_download_with_rfc6266_names_and_nosniff(alice, alice_store):
    _, uid = alice_store.deliver(
        _with_attachment("filename*=UTF-8''R%C3%A9sum%C3%A9.pdf", "application/pdf", "%PDF-1.4 fake")
    )
    page = alice.get(f"/mail/message/{uid}/?folder=INBOX").content.decode()
    assert "Résumé.pdf" in page
    response = alice.get(f"/mail/message/{uid}/part/?folder=INBOX&part=2")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_active_attachments_are_never_served_as_html_or_svg(alice, alice_store):
    for ctype, name in (("text/html", "page.html"), ("image/svg+xml", "pic.svg")):
        _, uid = alice_store.deliver(
            _with_attachment(f'filename="{name}"', ctype, "<script>alert(1)</script>")
        )
        response = alice.get(f"/mail/message/{uid}/part/?folder=INBOX&part=2")
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment;")
        assert "sandbox" in response["Content-Security-Policy"]


def test_a_hostile_attachment_name_cannot_break_the_header(alice, alice_store):
    _, uid = alice_store.deliver(_with_attachment('filename="a\\"; x=..\\\\..\\\\evil.sh"', "text/plain", "x"))
    response = alice.get(f"/mail/message/{uid}/part/?folder=INBOX&part=2")
    disposition = response["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert "/" not in disposition.split("filename=")[1].split(";")[0]


def test_a_missing_message_is_a_404(alice, alice_store):
    assert alice.get("/mail/message/999/?folder=INBOX").status_code == 404
    assert alice.get("/mail/message/1/?folder=NoSuchFolder").status_code == 404


def test_an_html_mail_with_a_text_part_can_be_read_as_plain_text(alice, alice_store):
    raw = (
        b"From: bob@example.com\r\nTo: alice@example.com\r\nSubject: both\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        b"--alt\r\nContent-Type: text/plain\r\n\r\nthe plain version\r\n"
        b"--alt\r\nContent-Type: text/html\r\n\r\n<p>the <b>rich</b> version</p>\r\n--alt--\r\n"
    )
    _, uid = alice_store.deliver(raw)
    formatted = alice.get(f"/mail/message/{uid}/", {"folder": "INBOX"}).content.decode()
    assert "iframe" in formatted and "Show plain text" in formatted
    plain = alice.get(f"/mail/message/{uid}/", {"folder": "INBOX", "view": "text"}).content.decode()
    assert "the plain version" in plain and "<iframe" not in plain and "Show formatted" in plain
