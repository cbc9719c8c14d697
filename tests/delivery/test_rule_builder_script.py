"""One source of truth at delivery: the active Sieve script, whoever wrote it.

A script saved in webmail's plain editor is what runs; the rule builder's rules run as
its script ``rule-builder`` and come back from it; a script uploaded over ManageSieve
under that name is never overwritten by the builder; ManageSieve's CHECKSCRIPT and the
webmail editor refuse the same script with the same line and reason.
"""

from __future__ import annotations

import html
import importlib

import pytest
from django.apps import apps as django_apps
from django.test import Client

from agents import config
from agents.config import sieve as engine_scripts
from agents.store.errors import FolderNotFound
from mailcore import sieve_rules
from tests.conftest import PASSWORD
from webadmin import rules
from webadmin.models import Filter, Mailbox, SieveScript

from .conftest import deliver_all, index_count, message, queue

REPORTS = {"name": "Reports", "active": "1", "cond0_field": "subject", "cond0_op": "contains",
           "cond0_value": "report", "act0_action": "fileinto", "act0_arg": "Reports"}


def count(folder: str) -> int:
    """Messages in one of Alice's folders (0 for a folder never made)."""
    try:
        return index_count("alice@example.com", folder)
    except FolderNotFound:
        return 0


def alice() -> Mailbox:
    return Mailbox.objects.get(local_part="alice", domain__name="example.com")


@pytest.fixture
def webmail(example_com) -> Client:
    client = Client()
    response = client.post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_a_script_saved_in_webmail_is_what_runs_at_delivery(webmail):
    webmail.post("/mail/settings/filters/new/", REPORTS)  # the builder's rules, active first
    text = 'require ["fileinto", "imap4flags"];\nif header :contains "Subject" "report" {\n' \
           '    addflag "\\\\Flagged";\n    fileinto "Hand-sorted";\n}\n'
    assert webmail.post("/mail/settings/scripts/edit/", {"name": "mine", "script": text}).status_code == 302
    assert webmail.post("/mail/settings/scripts/activate/", {"name": "mine"}).status_code == 302
    config.invalidate()  # this process's cache; running agents see the change within MAILAPP_CONFIG_REFRESH
    queue(message(subject="Weekly report"), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert count("Hand-sorted") == 1
    assert count("Reports") == 0  # the builder's rules are not active: not run
    # Back to the builder's script: its rules run again, and only they.
    webmail.post("/mail/settings/scripts/activate/", {"name": "rule-builder"})
    config.invalidate()
    queue(message(subject="Monthly report"), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert count("Reports") == 1 and count("Hand-sorted") == 1


def test_no_active_script_keeps_everything_in_inbox_even_with_rules(webmail):
    webmail.post("/mail/settings/filters/new/", REPORTS)
    webmail.post("/mail/settings/scripts/activate/", {"name": ""})
    config.invalidate()
    queue(message(subject="Weekly report"), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert count("INBOX") == 1 and count("Reports") == 0
    assert "no script is active" in webmail.get("/mail/settings/").content.decode()
    # Saving a rule says it will not run, and why.
    response = webmail.post("/mail/settings/filters/new/", {**REPORTS, "name": "Two"}, follow=True)
    assert "No script is active: activate “rule-builder”" in response.content.decode()


def test_the_builder_writes_a_marked_script_and_reads_its_rules_back(webmail):
    webmail.post("/mail/settings/filters/new/", REPORTS)
    webmail.post("/mail/settings/filters/new/", {**REPORTS, "name": "Off", "active": "", "act0_arg": "Never"})
    script = SieveScript.objects.get(mailbox=alice(), name=sieve_rules.SCRIPT_NAME)
    assert script.active and script.script.startswith(sieve_rules.HEADER)
    back = sieve_rules.read_rules(script.script)
    assert back is not None and [r["name"] for r in back] == ["Reports", "Off"]
    code = script.script.split("\n# mailappliance rule")[-1].split("\n", 1)[1]
    assert back[1]["active"] is False and "Never" not in code
    # A changed rule rewrites the script; the last rule gone, the script goes.
    rule = Filter.objects.get(mailbox=alice(), name="Reports")
    webmail.post(f"/mail/settings/filters/{rule.pk}/", {**REPORTS, "act0_arg": "Work"})
    assert 'fileinto "Work"' in SieveScript.objects.get(mailbox=alice(), name=sieve_rules.SCRIPT_NAME).script
    for row in Filter.objects.filter(mailbox=alice()):
        rules.delete_filter(alice().pk, row.pk)
    assert not SieveScript.objects.filter(mailbox=alice()).exists()


def test_a_builder_script_uploaded_over_managesieve_becomes_the_rules(webmail):
    # A copy downloaded earlier (or from another server) and put back: the builder shows its rules.
    made = sieve_rules.compile_rules([rules_row("Lists", "Lists"), rules_row("Bills", "Bills")])
    engine_scripts.put_script("alice@example.com", sieve_rules.SCRIPT_NAME, made)
    assert [f.name for f in Filter.objects.filter(mailbox=alice())] == ["Lists", "Bills"]
    page = webmail.get("/mail/settings/").content.decode()
    assert "Lists" in page.split('id="filters"')[1].split("</section>")[0]


def test_a_hand_written_script_under_the_builders_name_is_never_overwritten(webmail):
    webmail.post("/mail/settings/filters/new/", REPORTS)
    hand = 'require "fileinto";\nfileinto "Mine";\n'
    engine_scripts.put_script("alice@example.com", sieve_rules.SCRIPT_NAME, hand)
    response = webmail.post("/mail/settings/filters/new/", {**REPORTS, "name": "More", "act0_arg": "More"})
    assert response.status_code == 400
    assert "written by hand" in html.unescape(response.content.decode())
    assert SieveScript.objects.get(mailbox=alice(), name=sieve_rules.SCRIPT_NAME).script == hand
    vacation = webmail.post("/mail/settings/", {"what": "vacation", "active": "1", "subject": "Away", "body": "Off",
                                               "days": "3"})
    assert vacation.status_code == 302
    assert SieveScript.objects.get(mailbox=alice(), name=sieve_rules.SCRIPT_NAME).script == hand
    assert "written by hand" in webmail.get("/mail/settings/").content.decode()
    editor = webmail.get("/mail/settings/filters/new/").content.decode()
    assert "written by hand" in html.unescape(editor)
    # It runs as what it is: a script.
    config.invalidate()
    queue(message(subject="Weekly report"), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert count("Mine") == 1


def test_checkscript_and_the_webmail_editor_refuse_alike(webmail):
    text = 'require ["fileinto"];\n\nif header :is "x" "y" {\n  fileinto "z" "w";\n}\n'
    with pytest.raises(engine_scripts.ScriptRefused) as refused:
        engine_scripts.check_script("alice@example.com", text)
    page = html.unescape(webmail.post("/mail/settings/scripts/edit/", {"name": "n", "script": text}).content.decode())
    alert = page.split('id="script-error">')[1].split("</p>")[0]
    assert refused.value.text.startswith("line ") and alert == "L" + refused.value.text[1:]


def test_migration_0008_makes_the_builders_script_from_existing_rows(example_com, make_mailbox):
    make_mailbox("dave@example.com")
    bob = Mailbox.objects.get(local_part="bob", domain__name="example.com")
    dave = Mailbox.objects.get(local_part="dave", domain__name="example.com")
    # As before the migration: rows only (bulk_create sends no signal, so no script is made yet).
    Filter.objects.bulk_create([Filter(mailbox=m, name="r", actions=[{"action": "fileinto", "folder": "F"}])
                                for m in (alice(), bob)])
    SieveScript.objects.create(mailbox=bob, name="own", script="keep;", active=True)
    SieveScript.objects.create(mailbox=dave, name="own", script="keep;", active=True)
    migration = importlib.import_module("webadmin.migrations.0008_rule_builder_scripts")
    migration.forwards(django_apps, None)
    by_box = {(s.mailbox_id, s.name): s.active for s in SieveScript.objects.all()}
    assert by_box == {(alice().pk, "rule-builder"): True, (bob.pk, "rule-builder"): False, (bob.pk, "own"): True,
                      (dave.pk, "own"): True}


def rules_row(name: str, folder: str) -> object:
    return Filter(name=name, match="all", conditions=[{"field": "subject", "op": "contains", "value": name}],
                  actions=[{"action": "fileinto", "folder": folder}], stop=False)
