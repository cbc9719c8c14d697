"""``body :content`` (RFC 5173 section 5): a key matches only inside MIME parts of the given types.

The scripts are the RFC's section 7 examples; the message has a text/plain part, a
text/html part, an audio/mp3 part, an image and a forwarded message, so each type
argument has something to find and something it must not find.
"""

import base64
import datetime

from agents.delivery import sieve
from agents.delivery.message import parse as parse_message
from agents.delivery.sievebody import body_values
from mailcore import sieve as ms

NOW = datetime.datetime(2026, 7, 10, 12, 0, tzinfo=datetime.UTC)

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot really pixels").decode()
MP3 = base64.b64encode(b"ID3\x03\x00 some sound").decode()

MAIL = (
    "From: coyote@desert.example.org\r\n"
    "To: roadrunner@acme.example.com\r\n"
    "Subject: Plans\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="outer"\r\n'
    "\r\n"
    "This is the prologue of the mixed part.\r\n"
    "--outer\r\n"
    'Content-Type: multipart/alternative; boundary="alt"\r\n'
    "\r\n"
    "--alt\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "The launch coordinates are attached. Caf=E9 at noon.\r\n"
    "--alt\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>See the <b>project schedule</b>.</p>\r\n"
    "--alt--\r\n"
    "--outer\r\n"
    "Content-Type: audio/mp3\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    f"{MP3}\r\n"
    "--outer\r\n"
    "Content-Type: image/png\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    f"{PNG}\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: wile@desert.example.org\r\n"
    "Subject: Forwarded anvil order\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "One anvil, please.\r\n"
    "--outer--\r\n"
    "This is the epilogue.\r\n"
).encode("latin-1")


def folder(script: str, raw: bytes = MAIL) -> str:
    env = sieve.Envelope("coyote@desert.example.org", "roadrunner@acme.example.com", NOW)
    return sieve.run(ms.parse(script), parse_message(raw), raw, env).folder


def test_rfc5173_example_text_parts_with_missile_or_coordinates():
    script = '''require ["body", "fileinto"];
# Save any message with any text MIME part that contains the
# words "missile" or "coordinates" in the "secrets" folder.
if body :content "text" :contains ["missile", "coordinates"] {
        fileinto "secrets";
}'''
    assert folder(script) == "secrets"
    # The word only in the image's octets does not count for "text".
    hidden = MAIL.replace(b"launch coordinates", b"launch plans")
    assert folder(script, hidden) == "INBOX"


def test_rfc5173_example_audio_mp3_part_with_an_empty_key():
    script = '''require ["body", "fileinto"];
# Save any message with an audio/mp3 MIME part in
# the "jukebox" folder.
if body :content "audio/mp3" :contains "" {
        fileinto "jukebox";
}'''
    assert folder(script) == "jukebox"
    without = MAIL.replace(b"Content-Type: audio/mp3", b"Content-Type: application/octet-stream")
    assert folder(script, without) == "INBOX"


def test_rfc5173_example_text_transform_project_schedule():
    script = '''require ["body", "fileinto"];
if body :text :contains "project schedule" {
        fileinto "project/schedule";
}'''
    assert folder(script) == "project/schedule"


def test_content_type_with_subtype_matches_only_that_subtype():
    html = 'require ["body", "fileinto"]; if body :content "text/html" :contains "%s" { fileinto "html"; }'
    assert folder(html % "project schedule") == "html"
    assert folder(html % "coordinates") == "INBOX"  # that is in text/plain only
    plain = 'require ["body", "fileinto"]; if body :content "text/plain" :contains "Café" { fileinto "plain"; }'
    assert folder(plain) == "plain"  # quoted-printable and ISO-8859-1 decoded


def test_image_matches_nothing_textual():
    script = 'require ["body", "fileinto"]; if body :content "image" :contains "%s" { fileinto "img"; }'
    assert folder(script % "coordinates") == "INBOX"
    assert folder(script % "project") == "INBOX"
    assert folder(script % "not really pixels") == "img"  # the decoded octets of the image itself


def test_multipart_gives_its_prologue_and_epilogue_not_its_children():
    script = 'require ["body", "fileinto"]; if body :content "multipart" :contains "%s" { fileinto "m"; }'
    assert folder(script % "prologue of the mixed") == "m"
    assert folder(script % "the epilogue") == "m"
    assert folder(script % "coordinates") == "INBOX"


def test_message_rfc822_gives_the_nested_header_and_descends():
    header = 'require ["body", "fileinto"]; if body :content "message/rfc822" :contains "%s" { fileinto "fw"; }'
    assert folder(header % "Forwarded anvil order") == "fw"
    assert folder(header % "One anvil, please") == "INBOX"  # the nested body is text/plain, not message/rfc822
    text = 'require ["body", "fileinto"]; if body :content "text" :contains "One anvil" { fileinto "t"; }'
    assert folder(text) == "t"


def test_malformed_types_match_nothing_and_the_empty_type_matches_every_part():
    for bad in ("text/", "/plain", "text/plain/x"):
        assert body_values(MAIL, ":content", [bad]) == []
    every = body_values(MAIL, ":content", [""])
    assert any("coordinates" in v for v in every) and any("anvil order" in v for v in every)


def test_content_is_not_text_any_more():
    # :content "text/html" used to behave like :text and matched the plain part too.
    script = 'require ["body", "fileinto"]; if body :content "text/html" :contains "Café" { fileinto "x"; }'
    assert folder(script) == "INBOX"
