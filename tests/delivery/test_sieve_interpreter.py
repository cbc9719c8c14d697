"""The Sieve interpreter, pure: each extension against its RFC's examples (no database, no store)."""

import datetime

import pytest

from agents.delivery import sieve
from agents.delivery.message import parse as parse_message
from mailcore import sieve as ms

NOW = datetime.datetime(2026, 7, 10, 12, 0, tzinfo=datetime.UTC)

MAIL = (b"Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\r\n"
        b"From: coyote@desert.example.org\r\n"
        b"Sender: owner-ietf-mta-filters@example.org\r\n"
        b"To: roadrunner@acme.example.com\r\n"
        b"Subject: I have a present for you\r\n"
        b"X-Caffeine: C8H10N4O2\r\n"
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"Look, I'm sorry about the whole anvil thing, and I really\r\n"
        b"didn't mean to try and drop it on you from the top of the\r\n"
        b"cliff.  I want to try to make it up to you.  frobnitz\r\n")


def run(script: str, raw: bytes = MAIL, sender: str = "coyote@desert.example.org",
        recipient: str = "roadrunner@acme.example.com", now: datetime.datetime = NOW, **kw):
    return sieve.run(ms.parse(script), parse_message(raw), raw, sieve.Envelope(sender, recipient, now), **kw)


def test_no_script_action_keeps_in_inbox():
    verdict = run("# nothing\n")
    assert verdict.store and verdict.folder == "INBOX" and not verdict.redirects


def test_rfc5228_example_script():
    # RFC 5228 section 9 (the example script, trimmed to what the message reaches)
    script = '''require "fileinto";
if header :is "Sender" "owner-ietf-mta-filters@example.org" {
    fileinto "filter";
} elsif address :DOMAIN :is ["From", "To"] "example.com" {
    keep;
} elsif anyof (NOT address :all :contains ["To", "Cc", "Bcc"] "me@example.com",
               header :matches "subject" ["*make*money*fast*", "*university*dipl*mas*"]) {
    fileinto "spam";
} else {
    fileinto "personal";
}'''
    assert run(script).folder == "filter"
    other = MAIL.replace(b"Sender: owner-ietf-mta-filters@example.org\r\n", b"")
    assert run(script, other).folder == "spam"  # not addressed to me@example.com


def test_discard_and_stop_and_size():
    assert not run("if size :under 1K { discard; stop; } keep;").store  # stop: the keep never runs
    assert run("if size :over 100K { discard; }").store


def test_redirect_cancels_keep_unless_copy():
    verdict = run('redirect "bob@example.net";')
    assert verdict.redirects == ["bob@example.net"] and not verdict.store
    verdict = run('require "copy"; redirect :copy "bob@example.net";')  # RFC 3894
    assert verdict.redirects == ["bob@example.net"] and verdict.store


def test_fileinto_copy_keeps_the_implicit_keep():
    # RFC 3894: fileinto :copy does not cancel the implicit keep; one copy is stored, in the named folder
    verdict = run('require ["fileinto", "copy"]; fileinto :copy "Archive";')
    assert verdict.store and verdict.folder == "Archive"


def test_envelope_rfc5228_example():
    script = 'require "envelope"; if envelope :all :is "from" "tim@example.com" { discard; }'
    assert not run(script, sender="tim@example.com").store
    assert run(script).store


def test_reject_and_ereject():
    # RFC 5429 section 2.2 example
    script = '''require ["reject"];
if header :contains "from" "coyote@desert.example.org" {
  reject text:
I am not taking mail from you, and I don't
want your birdseed, either!
.
;
}'''
    verdict = run(script)
    assert verdict.reject.startswith("I am not taking mail from you") and not verdict.store
    assert run('require "ereject"; ereject "no thanks";').reject == "no thanks"


def test_imap4flags_rfc5232_examples():
    script = '''require ["imap4flags", "fileinto"];
if header :contains "from" "coyote" {
    addflag "\\\\Deleted";
    addflag "\\\\Flagged \\\\Seen";
    removeflag "\\\\Deleted";
    fileinto "INBOX.From Coyote";
}'''
    verdict = run(script)
    assert verdict.folder == "INBOX.From Coyote" and verdict.flags == {"\\Flagged", "\\Seen"}
    verdict = run('require ["imap4flags", "fileinto"]; fileinto :flags "\\\\Answered" "Done";'
                  'if hasflag "\\\\Answered" { discard; }')
    assert verdict.flags == {"\\Answered"}  # :flags sets this copy's flags; the internal variable stays empty


def test_vacation_rfc5230_example():
    script = '''require "vacation";
if header :contains "subject" "cyrus" {
    vacation "I'm out -- send mail to cyrus-bugs";
} else {
    vacation :days 23 :addresses ["tjs@example.edu", "ts4z@landru.example.edu"]
             :subject "Gone fishing" :from "tjs@example.edu" "I'm out -- call me at +1 304 555 0123";
}'''
    # not addressed to any of the user's addresses: no reply
    assert run(script, recipient="tjs@example.edu").autoreplies == []
    to_me = MAIL.replace(b"To: roadrunner@acme.example.com", b"To: Tim <ts4z@landru.example.edu>")
    [reply] = run(script, to_me, recipient="tjs@example.edu").autoreplies
    assert reply["days"] == 23 and reply["subject"] == "Gone fishing" and reply["from"] == "tjs@example.edu"
    assert reply["body"].startswith("I'm out -- call me")
    # :from that is not one of the user's addresses is dropped (the reply goes from the mailbox)
    [reply] = run('require "vacation"; vacation :from "boss@elsewhere.example" "away";').autoreplies
    assert reply["from"] == "" and reply["days"] is None  # no :days: the appliance default applies


def test_vacation_within_a_date_range_rfc5260():
    # RFC 5260 section 6 example: vacation only between two dates
    script = '''require ["date", "relational", "vacation"];
if allof(currentdate :value "ge" "date" "2026-07-01",
         currentdate :value "le" "date" "2026-07-21") {
    vacation :days 3 "I'm away until July 22.";
}'''
    assert len(run(script).autoreplies) == 1
    assert run(script, now=datetime.datetime(2026, 7, 22, 0, 1, tzinfo=datetime.UTC)).autoreplies == []
    assert run(script, now=datetime.datetime(2026, 6, 30, 23, 59, tzinfo=datetime.UTC)).autoreplies == []


def test_date_header_and_zone_rfc5260():
    script = '''require ["date", "relational", "fileinto"];
if date :value "ge" :originalzone "date" "hour" "09" { fileinto "late"; }'''
    assert run(script).folder == "late"  # 09:06 in the message's own zone
    script = 'require ["date", "fileinto"]; if date :zone "+0000" "date" "hour" "17" { fileinto "utc"; }'
    assert run(script).folder == "utc"
    assert run('require ["date","fileinto"]; if date :is "date" "weekday" "2" { fileinto "tue"; }').folder == "tue"


def test_relational_count_rfc5231():
    script = '''require ["relational", "fileinto", "comparator-i;ascii-numeric"];
if header :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["1"] { fileinto "one-or-more"; }
if header :value "lt" :comparator "i;ascii-numeric" "x-priority" "3" { fileinto "urgent"; }'''
    assert run(script).folder == "one-or-more"
    urgent = MAIL.replace(b"X-Caffeine", b"X-Priority: 1\r\nX-Caffeine")
    verdict = run(script.replace('fileinto "one-or-more"', "keep"), urgent)
    assert verdict.folder == "urgent"


def test_body_rfc5173():
    script = 'require ["body", "fileinto"]; if body :text :contains "frobnitz" { fileinto "frob"; }'
    assert run(script).folder == "frob"
    assert run(script.replace("frobnitz", "anvil thingy")).folder == "INBOX"
    assert run('require ["body","fileinto"]; if body :raw :contains "anvil" { fileinto "raw"; }').folder == "raw"


def test_variables_rfc5229():
    script = '''require ["variables", "fileinto"];
if header :matches "List-ID" "*<*@*" {
    fileinto "INBOX.lists.${2}"; stop;
}
set :lower "folder" "Mixed";
if header :matches "Subject" "I have a * for you" { fileinto "${folder}.${1}"; }'''
    listed = MAIL.replace(b"X-Caffeine", b"List-ID: Sieve <sieve@ietf.org>\r\nX-Caffeine")
    assert run(script, listed).folder == "INBOX.lists.sieve"
    assert run(script).folder == "mixed.present"
    script = 'require ["variables", "fileinto"]; set :length "n" "hello"; set :upperfirst "w" "x"; fileinto "${w}${n}";'
    assert run(script).folder == "X5"


def test_mailbox_rfc5490():
    script = '''require ["fileinto", "mailbox"];
if mailboxexists "Partners" { fileinto :create "Partners"; } else { fileinto :create "Other"; }'''
    assert run(script, folder_exists=lambda name: name == "Partners").folder == "Partners"
    assert run(script, folder_exists=lambda name: False).folder == "Other"


def test_subaddress_rfc5233():
    script = '''require ["envelope", "subaddress", "fileinto"];
if envelope :detail "to" "mta-filters" { fileinto "inbox.ietf-mta-filters"; }
if envelope :user :is "to" "ken" { addflag "x"; }'''
    verdict = run(script.replace('addflag "x";', 'fileinto "ken";'), recipient="ken+mta-filters@example.org")
    assert verdict.folder == "inbox.ietf-mta-filters"
    assert run(script.replace('addflag "x";', 'fileinto "ken";'), recipient="ken@example.org").folder == "ken"


def test_include_rfc6609_and_return():
    scripts = {
        "spam_tests": 'require ["fileinto","include"]; if header :contains "subject" "present" '
                      '{ fileinto "Spam"; return; } fileinto "never";',
    }
    verdict = run('require ["include"]; include :personal "spam_tests"; include :once "spam_tests";',
                  includes=scripts.get)
    assert verdict.folder == "Spam"
    assert run('require "include"; include :optional "missing";').store
    # a missing non-optional include is a runtime error: the message is kept
    assert run('require ["include", "fileinto"]; fileinto "X"; include "missing";').folder == "INBOX"


def test_editheader_rfc5293():
    verdict = run('require "editheader"; addheader "X-Sieve" "seen"; deleteheader "X-Caffeine";')
    assert verdict.added_headers == [("X-Sieve", "seen")] and verdict.deleted_headers == ["X-Caffeine"]


def test_runaway_is_stopped_and_the_message_kept():
    script = 'require "fileinto";\n' + "".join(f'fileinto "f{i}";\n' for i in range(sieve.MAX_ACTIONS + 5))
    verdict = run(script)
    assert verdict.store and verdict.folder == "INBOX" and "sieve: error, kept" in verdict.matched


@pytest.mark.parametrize("text, line, words", [
    ('require "fileinto";\nkeep;\nfileinto;', 3, ""),
    ('keep;\nfileinto "x";', 2, "fileinto"),
    ('require ["vacation",\n "x-unknown"];', 2, "unsupported extension"),
    ("#" * (ms.MAX_SCRIPT + 1), 1, "too large"),
])
def test_upload_check_names_line_and_reason(text, line, words):
    with pytest.raises(ms.SieveError) as refused:
        ms.check(text, "mine")
    assert refused.value.line == line and words in refused.value.reason


def test_include_cycle_is_refused_on_upload():
    others = {"b": 'require "include";\ninclude "c";', "c": 'require "include";\ninclude "a";'}
    with pytest.raises(ms.SieveError) as refused:
        ms.check('require "include";\n\ninclude :personal "b";', "a", others.get)
    assert refused.value.line == 3 and "include loop: a → b → c → a" in refused.value.reason
    with pytest.raises(ms.SieveError, match="include loop: a → a"):
        ms.check('require "include"; include "a";', "a", {}.get)
