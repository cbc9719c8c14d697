from agents.imap.responses import envelope


def test_addresses_in_an_envelope_list_follow_each_other_without_a_space():
    # RFC 3501: env-to = "(" 1*address ")" / nil — Dovecot writes ")(" too.
    value = [None, "Hi", [["Alice", None, "alice", "example.com"]], None, None,
             [["Bob", None, "bob", "example.com"], [None, None, "carol", "example.com"]], None, None, None, None]
    out = envelope(value)
    assert b'(("Bob" NIL "bob" "example.com")(NIL NIL "carol" "example.com"))' in out
