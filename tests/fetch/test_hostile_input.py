"""Malformed, oversized and hostile input: mbox/Maildir parsing and remote servers that misbehave."""

from __future__ import annotations

import socket
import threading

import pytest
from django.core.management import CommandError, call_command

from agents.fetch import clients
from agents.fetch.engine import poll
from agents.fetch.sources import from_line_date, maildir_folders, mbox_items, mbox_state


def test_mbox_state_headers_are_parsed_and_removed_even_when_odd():
    raw = b"Status: RO\nX-Status: \xff\xfeAFZ\nX-Keywords: junk\n\tcontinued\nSubject: s\n\nbody\nStatus: R\n"
    clean, flags, pseudo = mbox_state(raw)
    assert flags == {"\\Seen", "\\Answered", "\\Flagged"} and not pseudo
    assert clean == b"Subject: s\n\nbody\nStatus: R\n"  # a body line that looks like a header stays


def test_a_huge_header_block_and_no_body_do_not_break_parsing():
    raw = b"X-Long: " + b"a" * 600_000 + b"\nSubject: x\n"
    clean, flags, _ = mbox_state(raw)
    assert flags == frozenset() and clean == raw


@pytest.mark.parametrize("line", [b"From ", b"From x", b"From a@b Xyz Nov 99 99:99:99 2020",
                                  b"From a@b Mon Foo  1 10:00:00 2020", b"From \xff\xfe", b"From a@b " + b"9" * 5000])
def test_bad_from_lines_give_no_date(line):
    assert from_line_date(line) is None


def test_from_line_dates_in_the_usual_forms():
    assert from_line_date(b"From a@b Tue Nov  3 10:01:00 2020") == from_line_date(b"From a@b Tue Nov 3 10:01 2020")
    assert from_line_date(b"From MAILER-DAEMON Tue Nov  3 10:01:00 CET 2020") is not None


def test_a_file_that_is_not_an_mbox_is_refused(example_com, tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"\x00\x01 binary junk\n" * 10)
    with pytest.raises(CommandError, match="not an mbox file"):
        call_command("importmail", str(path), "alice@example.com")


def test_an_mbox_message_without_headers_or_body_still_imports(tmp_path):
    path = tmp_path / "m"
    path.write_bytes(b"From a@b Tue Nov  3 10:01:00 2020\n\nFrom b@c Tue Nov  3 10:02:00 2020\n")
    assert [item.position for item in mbox_items(path)] == [0, 1]


def test_maildir_folders_ignore_hostile_names(tmp_path):
    for name in ("cur", "new", "tmp", ".Sent/cur", "..hidden/cur", ".a..b/cur", ".%bad*/cur", ".notmaildir"):
        (tmp_path / name).mkdir(parents=True)
    assert [name for name, _ in maildir_folders(tmp_path)] == ["INBOX", "Sent"]


class Liar:
    """A POP3 "server" on loopback that greets and then answers every command with ``reply``."""

    def __init__(self, reply: bytes, greeting: bytes = b"+OK hi\r\n") -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.reply, self.greeting = reply, greeting
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        self.sock.settimeout(10)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        finally:
            self.sock.close()  # one client only
        with conn:
            conn.settimeout(5)
            conn.sendall(self.greeting)
            try:
                while conn.recv(1000):
                    conn.sendall(self.reply)
            except OSError:
                pass


@pytest.mark.parametrize("reply", [b"garbage\r\n", b"+OK\r\n1 " + b"x" * 100 + b"\r\n2\r\n\xff\xff y\r\n.\r\n",
                                   b"-ERR " + b"z" * 5000 + b"\r\n", b""])
def test_a_lying_pop3_server_is_a_clear_error_not_a_traceback(make_source, monkeypatch, reply):
    monkeypatch.setattr(clients, "TIMEOUT", 2.0)
    liar = Liar(reply)
    result = poll(make_source("pop3", port=liar.port).pk)
    assert result.fetched == 0 and result.error and len(result.error) < 600


def test_a_server_that_never_greets_times_out(make_source, monkeypatch):
    monkeypatch.setattr(clients, "TIMEOUT", 1.0)
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        result = poll(make_source("imap", port=silent.getsockname()[1]).pk)
    finally:
        silent.close()
    assert "did not answer in time" in result.error
