"""Modified UTF-7: one codec for the IMAP wire and the Maildir++ directory names, canonical forms only."""

import pytest

from mailcore import mutf7


@pytest.mark.parametrize("text", ["INBOX", "Entwürfe", "日本語/Sub", "a&b", "~peter/mail/台北", "Москва", "😀", "&"])
def test_round_trip(text):
    assert mutf7.decode(mutf7.encode(text)) == text
    assert mutf7.decode_wire(mutf7.encode_wire(text)) == text


def test_known_encodings_match_dovecot():
    assert mutf7.encode("a&b") == "a&-b"
    assert mutf7.encode("Entwürfe") == "Entw&APw-rfe"
    assert mutf7.encode("日本") == "&ZeVnLA-"


@pytest.mark.parametrize(
    "wire",
    [
        "&AGEAYgBj-",  # "abc": printable ASCII must be written as itself
        "&ACY-",  # "&" must be "&-"
        "&AOk-&AOk-",  # "éé" must be one shift, not two
        "&AOl-",  # "é" with non-zero padding bits (canonical: &AOk-)
        "&AOk=-",  # base64 padding is never written
        "&AOk",  # unterminated shift
        "&2D0-",  # a lone surrogate
        "&A-",  # not a whole UTF-16 unit
        "a\tb",  # control character
    ],
)
def test_non_canonical_or_malformed_names_are_refused(wire):
    with pytest.raises(mutf7.UTF7Error):
        mutf7.decode(wire)
    with pytest.raises(mutf7.UTF7Error):
        mutf7.decode_wire(wire.encode("ascii"))


def test_ampersand_dash_is_the_ampersand():
    assert mutf7.decode("&-") == "&"
    assert mutf7.decode("R&-D") == "R&D"


def test_raw_utf8_on_the_wire_is_tolerated_but_not_control_characters():
    assert mutf7.decode_wire("Entwürfe".encode()) == "Entwürfe"
    with pytest.raises(mutf7.UTF7Error):
        mutf7.decode_wire(b"\xc3\xbc\x00")
