import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from webadmin.models import Alias, Domain, Mailbox


def run(*args, stdin=None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_a_domain_mailbox_and_alias_are_made_from_the_command_line(db, monkeypatch):
    out = run("createdomain", "example.com", "--postmaster", "chief@example.com")
    assert "postmaster@ and abuse@ go to chief@example.com" in out
    run("createmailbox", "alice@example.com", "--name", "Alice", "--password-stdin",
        stdin="violet seven lamps\n", monkeypatch=monkeypatch)
    assert Mailbox.objects.get(local_part="alice").check_password("violet seven lamps")
    run("createalias", "team@example.com", "alice@example.com", "friend@elsewhere.org")
    assert Alias.objects.get(local_part="team").targets == ["alice@example.com", "friend@elsewhere.org"]
    run("setpassword", "ALICE@example.com", "--password-stdin", stdin="orange river 42\n", monkeypatch=monkeypatch)
    assert Mailbox.objects.get(local_part="alice").check_password("orange river 42")
    with pytest.raises(CommandError, match="too short"):
        run("setpassword", "alice@example.com", "--password-stdin", stdin="1\n", monkeypatch=monkeypatch)
    with pytest.raises(CommandError, match="too common"):
        run("createmailbox", "carol@example.com", "--password-stdin", stdin="password123\n", monkeypatch=monkeypatch)


def test_command_errors_are_sentences_not_tracebacks(db, monkeypatch):
    run("createdomain", "example.com", "--postmaster", "chief@example.com")
    with pytest.raises(CommandError, match="already exists"):
        run("createdomain", "example.com", "--postmaster", "chief@example.com")
    with pytest.raises(CommandError, match="not a valid local part"):
        run("createmailbox", "bad..name@example.com", "--password-stdin", stdin="pw\n", monkeypatch=monkeypatch)
    with pytest.raises(CommandError, match="not a domain of this appliance"):
        run("createalias", "x@nowhere.example", "chief@example.com")
    with pytest.raises(CommandError, match="loop"):
        run("createalias", "loop@example.com", "loop@example.com")
    with pytest.raises(CommandError, match="no mailbox"):
        run("setpassword", "ghost@example.com", "--password-stdin", stdin="pw\n", monkeypatch=monkeypatch)


ALIASES = """\
# /etc/aliases of an old server
mailer-daemon: postmaster
root: chief
staff: chief, bob@elsewhere.org,
\tcarol@elsewhere.org
nobody: /dev/null
backup: |/usr/local/bin/backup-mail
archive: /var/mail/archive
list: :include:/etc/mail/list.txt
"""


def test_an_etc_aliases_file_is_imported_and_pipes_and_files_are_refused_with_reasons(db, tmp_path):
    run("createdomain", "example.com", "--postmaster", "chief@example.com")
    path = tmp_path / "aliases"
    path.write_text(ALIASES)
    out = io.StringIO()
    err = io.StringIO()
    with pytest.raises(CommandError, match="3 entries were refused"):
        call_command("importaliases", str(path), "--domain", "example.com", stdout=out, stderr=err)
    assert "Created 4 aliases" in out.getvalue()
    assert "line 7: pipes to commands" in err.getvalue()
    assert "line 8: delivery to files" in err.getvalue()
    assert "line 9: :include:" in err.getvalue()
    aliases = {a.local_part: a for a in Alias.objects.filter(domain=Domain.objects.get(name="example.com"))}
    assert aliases["root"].targets == ["chief@example.com"]
    assert aliases["staff"].targets == ["chief@example.com", "bob@elsewhere.org", "carol@elsewhere.org"]
    assert aliases["nobody"].discard
    assert aliases["mailer-daemon"].targets == ["postmaster@example.com"]


def test_a_filter_is_made_from_the_command_line_and_bad_rules_are_refused(example_com):
    from webadmin.models import Filter

    out = run("createfilter", "alice@example.com", "--name", "lists", "--condition", "header:List-Id contains dev",
              "--condition", "subject contains [dev]", "--any", "--action", "fileinto Lists/Dev", "--action",
              "mark_read", "--stop")
    assert "Added filter" in out
    rule = Filter.objects.get(name="lists")
    assert rule.match == "any" and rule.stop
    assert rule.conditions[0] == {"field": "header", "header": "List-Id", "op": "contains", "value": "dev"}
    assert rule.actions == [{"action": "fileinto", "folder": "Lists/Dev"}, {"action": "mark_read"}]
    with pytest.raises(CommandError, match="must be one of"):
        run("createfilter", "alice@example.com", "--name", "bad", "--action", "explode")
