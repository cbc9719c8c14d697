"""Line-ending checks, hop counting, Return-Path removal and the Received field, on bytes."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.smtp import content


def test_only_crlf_line_ends_pass():
    assert content.line_ending_problem(b"a\r\nb\r\n") is None
    assert content.line_ending_problem(b"a\nb\r\n").startswith("550 5.5.2 Error: bare <LF>")
    assert content.line_ending_problem(b"a\rb\r\n").startswith("550 5.5.2 Error: bare <CR>")


def test_hops_are_counted_in_the_header_only():
    raw = b"Received: a\r\nreceived: b\r\nSubject: x\r\n\r\nReceived: not a header\r\n"
    assert content.count_hops(raw) == 2


def test_return_path_and_its_continuation_are_removed():
    raw = b"Return-Path:\r\n <x@y>\r\nSubject: s\r\n\r\nReturn-Path: body stays\r\n"
    assert content.strip_return_path(raw) == b"Subject: s\r\n\r\nReturn-Path: body stays\r\n"


def test_received_field_cannot_be_broken_by_a_hostile_helo():
    field = content.received_header(
        helo="evil (\r\nX-Injected: yes", ip="127.0.0.1", hostname="mx.example", protocol="ESMTP",
        queue_id="Q1", recipients=["a@b"], when=datetime(2026, 1, 2, tzinfo=UTC),
    )
    assert b"X-Injected: yes" not in field and field.count(b"\r\n") == 3
    assert field.endswith(b"\tfor <a@b>; Fri, 02 Jan 2026 00:00:00 +0000\r\n")


def test_protocol_names():
    assert content.protocol_name(True, True, True, False) == "ESMTPSA"
    assert content.protocol_name(False, False, False, False) == "SMTP"
    assert content.protocol_name(True, True, False, True) == "UTF8SMTPS"
