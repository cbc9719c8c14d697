"""``[`` is an atom character (RFC 3501 ATOM-CHAR): it opens a section only after BODY, BINARY and their forms.

``SELECT`` of a name holding ``[`` used to get ``BAD unterminated [ in atom``.
"""

from __future__ import annotations

import pytest

from agents.imap import parser as p
from tests.imap.conftest import ALICE


@pytest.mark.parametrize("name", ["foo[bar", "[Gmail]/Sent", "a[b]c[", "x[1"])
def test_mailbox_names_may_hold_open_brackets(name):
    cmd = p.parse_command(b"a SELECT " + name.encode())
    assert isinstance(cmd, p.MailboxCommand) and cmd.mailbox == name


def test_bracket_names_stay_separate_arguments():
    cmd = p.parse_command(b"a RENAME a[b c[d")
    assert isinstance(cmd, p.Rename) and (cmd.old, cmd.new) == ("a[b", "c[d")


@pytest.mark.parametrize(
    ("items", "fields"),
    [
        (b"(BODY[HEADER.FIELDS (X)])", ("X",)),
        (b"BODY.PEEK[HEADER.FIELDS (X-Y Subject)]<0.10>", ("X-Y", "SUBJECT")),
        (b"(UID BODY[1.HEADER.FIELDS.NOT (A)])", ("A",)),
    ],
)
def test_sections_with_spaces_and_parentheses_still_parse(items, fields):
    cmd = p.parse_command(b"a FETCH 1 " + items)
    assert isinstance(cmd, p.Fetch)
    sections = [i.section for i in cmd.items if i.section is not None]
    assert len(sections) == 1 and tuple(f.upper() for f in sections[0].fields) == tuple(f.upper() for f in fields)


def test_unterminated_section_is_still_bad():
    with pytest.raises(p.CommandError):
        p.parse_command(b"a FETCH 1 (BODY[HEADER.FIELDS (X)")


def test_select_of_a_folder_with_a_bracket_over_imap(imap_server):
    imap = imap_server.login(ALICE)
    try:
        assert imap.create("a[b")[0] == "OK"
        assert imap._simple_command("SELECT", "a[b")[0] == "OK"  # unquoted, as a client may send it
        assert b"a[b" in imap.list('""', "a[b")[1][0]
    finally:
        imap.logout()
