"""Responses on the wire: dot-stuffing, CRLF, TOP cut-off, sizes."""

from __future__ import annotations

from agents.pop3 import wire


def test_dot_stuffing_doubles_leading_dots_and_terminates():
    message = b".first\r\nmiddle\r\n..two\r\n.\r\nend\r\n"
    assert wire.dot_stuff(message) == b"..first\r\nmiddle\r\n...two\r\n..\r\nend\r\n.\r\n"


def test_message_without_final_line_end_gets_one_before_the_terminator():
    assert wire.dot_stuff(b"Subject: x\r\n\r\nno newline") == b"Subject: x\r\n\r\nno newline\r\n.\r\n"


def test_empty_message_is_just_the_terminator():
    assert wire.dot_stuff(b"") == b".\r\n"


def test_bare_lf_becomes_crlf_and_crlf_stays():
    assert wire.to_crlf(b"a\nb\r\nc\n") == b"a\r\nb\r\nc\r\n"
    already = b"a\r\nb\r\n"
    assert wire.to_crlf(already) is already


def test_top_sends_header_blank_line_and_n_body_lines():
    message = b"Subject: s\r\nFrom: f\r\n\r\nl1\r\nl2\r\nl3\r\n"
    assert wire.top(message, 0) == b"Subject: s\r\nFrom: f\r\n\r\n"
    assert wire.top(message, 2) == b"Subject: s\r\nFrom: f\r\n\r\nl1\r\nl2\r\n"
    assert wire.top(message, 10**9) == message


def test_top_of_headers_only_and_of_empty_header():
    assert wire.top(b"Subject: s\r\n", 5) == b"Subject: s\r\n"
    assert wire.top(b"\r\nbody1\r\nbody2\r\n", 1) == b"\r\nbody1\r\n"


def test_error_lines_carry_response_codes():
    assert wire.err("locked", "IN-USE") == b"-ERR [IN-USE] locked\r\n"
    assert wire.multiline(wire.ok("x"), ["TOP", ".dot"]) == b"+OK x\r\nTOP\r\n..dot\r\n.\r\n"
