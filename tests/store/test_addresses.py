"""Address lists for ENVELOPE: source routes, groups, names as written (the shapes Dovecot sends)."""

from agents.store.addresses import MISSING_DOMAIN, MISSING_MAILBOX, address_list


def test_source_route_is_the_adl():
    assert address_list("<@relay1.example,@relay2.example:route@example.com>") == [
        [None, "@relay1.example,@relay2.example", "route", "example.com"]]
    assert address_list("Name <@gw.example:user@example.com>") == [["Name", "@gw.example", "user", "example.com"]]


def test_groups_have_start_and_end_markers():
    assert address_list("team: Ann <ann@example.com>, bob@example.org;, c@example.net") == [
        [None, None, "team", None], ["Ann", None, "ann", "example.com"], [None, None, "bob", "example.org"],
        [None, None, None, None], [None, None, "c", "example.net"]]
    assert address_list("undisclosed-recipients:;") == [[None, None, "undisclosed-recipients", None],
                                                         [None, None, None, None]]
    assert address_list("open group: a@example.com") == [[None, None, "open group", None],
                                                         [None, None, "a", "example.com"], [None, None, None, None]]


def test_names_are_kept_as_written():
    assert address_list('"Quoted, Name" <q@example.com> (comment)')[0][0] == "Quoted, Name"
    assert address_list("=?UTF-8?Q?J=C3=BCrgen?= <j@example.de>")[0][0] == "=?UTF-8?Q?J=C3=BCrgen?="
    assert address_list("Jürgen  Müller <jm@example.de>")[0][0] == "Jürgen Müller"
    assert address_list("Joe Q. Public <joe@example.com>")[0][0] == "Joe Q. Public"
    assert address_list("joe@example.com (Joe Public)")[0] == ["Joe Public", None, "joe", "example.com"]


def test_missing_parts_are_placeholders():
    assert address_list("no-domain") == [[None, None, "no-domain", MISSING_DOMAIN]]
    assert address_list("Name <>") == [["Name", None, MISSING_MAILBOX, MISSING_DOMAIN]]
    assert address_list("") is None and address_list(None) is None


def test_a_hostile_list_costs_one_pass():
    assert len(address_list(", ".join(["a@b"] * 20_000)) or []) == 4_096  # entries kept
    assert len(address_list(", ".join(["user@example.com"] * 20_000)) or []) < 4_000  # text read: 64 KiB
    assert address_list("a:" * 10_000 + "b@example.com;" * 10_000)[0] == [None, None, "a", None]
