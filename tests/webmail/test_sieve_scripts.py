"""Webmail's Sieve scripts: list, activate, create, edit, rename, delete (with confirmation), errors at their line.

Every view is driven with the Django test client; the CSRF token is enforced, and Bob
tries each door on Alice's scripts by name.
"""

from __future__ import annotations

import html

import pytest
from django.test import Client

from mailcore import sieve as ms
from tests.conftest import PASSWORD
from webadmin.models import Filter, Mailbox, SieveScript

GOOD = 'require "fileinto";\nif header :contains "Subject" "report" {\n    fileinto "Reports";\n}\n'
BAD_AT_LINE_4 = 'require "fileinto";\nif header :contains "Subject" "report" {\n    fileinto "Reports"\n}\n'


def box(address: str) -> Mailbox:
    local, _, domain = address.partition("@")
    return Mailbox.objects.get(local_part=local, domain__name=domain)


def scripts(address: str) -> dict[str, tuple[str, bool]]:
    return {s.name: (s.script, s.active) for s in SieveScript.objects.filter(mailbox=box(address))}


@pytest.fixture
def alice_script(example_com) -> SieveScript:
    return SieveScript.objects.create(mailbox=box("alice@example.com"), name="main", script=GOOD, active=True)


def test_the_settings_page_lists_scripts_and_which_is_active(alice, alice_script):
    SieveScript.objects.create(mailbox=box("alice@example.com"), name="spare", script=GOOD)
    page = alice.get("/mail/settings/").content.decode()
    assert 'id="script-list"' in page
    assert 'data-script="main"' in page and 'data-script="spare"' in page
    main_row = page.split('data-script="main"')[1].split("</tr>")[0]
    spare_row = page.split('data-script="spare"')[1].split("</tr>")[0]
    assert "active-script" in main_row and "active-script" not in spare_row


def test_create_a_script(alice):
    response = alice.post("/mail/settings/scripts/edit/", {"name": "work", "script": GOOD})
    assert response.status_code == 302 and response["Location"].endswith("/mail/settings/#scripts")
    assert scripts("alice@example.com") == {"work": (GOOD, False)}


def test_a_syntax_error_is_shown_at_its_line_and_nothing_is_saved(alice, alice_script):
    response = alice.post("/mail/settings/scripts/edit/?name=main", {"name": "main", "script": BAD_AT_LINE_4})
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    # The missing ";" on line 3 shows at the token that follows it, the "}" on line 4 (as sieve-connect says).
    assert "Line 4: parsing error: unexpected token '}'" in page.split('role="alert"')[1].split("</p>")[0]
    assert 'aria-invalid="true"' in page
    assert BAD_AT_LINE_4.split("\n")[2] in page  # the text comes back to be fixed
    assert scripts("alice@example.com")["main"] == (GOOD, True)


def test_an_unknown_extension_is_refused_with_its_line(alice):
    text = 'require "fileinto";\n\nrequire "notify";\n'
    page = alice.post("/mail/settings/scripts/edit/", {"name": "x", "script": text}).content.decode()
    assert "Line 3: unsupported extension" in page
    assert not SieveScript.objects.filter(name="x").exists()


def test_the_same_quotas_as_managesieve(alice):
    mailbox = box("alice@example.com")
    SieveScript.objects.bulk_create([SieveScript(mailbox=mailbox, name=f"s{n}", script="keep;")
                                     for n in range(SieveScript.MAX_SCRIPTS)])
    response = alice.post("/mail/settings/scripts/edit/", {"name": "one-too-many", "script": "keep;"})
    assert response.status_code == 400 and f"at most {SieveScript.MAX_SCRIPTS} scripts" in response.content.decode()
    SieveScript.objects.filter(mailbox=mailbox).delete()
    big = "# " + "x" * ms.MAX_SCRIPT + "\nkeep;\n"
    response = alice.post("/mail/settings/scripts/edit/", {"name": "big", "script": big})
    assert response.status_code == 400 and f"at most {ms.MAX_SCRIPT} bytes" in response.content.decode()
    loop = 'require "include";\ninclude :personal "a";\n'
    SieveScript.objects.create(mailbox=mailbox, name="a", script='require "include";\ninclude :personal "b";\n')
    response = alice.post("/mail/settings/scripts/edit/", {"name": "b", "script": loop})
    assert response.status_code == 400 and "include loop" in response.content.decode()
    assert set(scripts("alice@example.com")) == {"a"}


def test_edit_and_rename_in_one_save(alice, alice_script):
    response = alice.post("/mail/settings/scripts/edit/?name=main", {"name": "sorting", "script": "keep;\n"})
    assert response.status_code == 302
    assert scripts("alice@example.com") == {"sorting": ("keep;\n", True)}


def test_a_refused_rename_keeps_the_old_name_and_text(alice, alice_script):
    SieveScript.objects.create(mailbox=box("alice@example.com"), name="other", script="keep;")
    response = alice.post("/mail/settings/scripts/edit/?name=main", {"name": "other", "script": "discard;"})
    assert response.status_code == 400 and "a script by that name exists" in response.content.decode()
    response = alice.post("/mail/settings/scripts/edit/?name=main", {"name": "new/name", "script": "discard;"})
    assert response.status_code == 400 and "without “/”" in response.content.decode()
    assert scripts("alice@example.com") == {"main": (GOOD, True), "other": ("keep;", False)}


def test_activate_another_and_then_none(alice, alice_script):
    SieveScript.objects.create(mailbox=box("alice@example.com"), name="spare", script="keep;")
    assert alice.post("/mail/settings/scripts/activate/", {"name": "spare"}).status_code == 302
    assert {n: a for n, (_, a) in scripts("alice@example.com").items()} == {"main": False, "spare": True}
    assert alice.post("/mail/settings/scripts/activate/", {"name": ""}).status_code == 302
    assert {n: a for n, (_, a) in scripts("alice@example.com").items()} == {"main": False, "spare": False}
    assert alice.get("/mail/settings/scripts/activate/").status_code == 405


def test_delete_asks_first_then_deletes(alice, alice_script):
    SieveScript.objects.create(mailbox=box("alice@example.com"), name="old", script="keep;")
    page = alice.get("/mail/settings/scripts/delete/?name=old")
    assert page.status_code == 200 and 'id="confirm"' in page.content.decode()
    assert "old" in scripts("alice@example.com")  # a GET deletes nothing
    assert alice.post("/mail/settings/scripts/delete/?name=old").status_code == 302
    assert "old" not in scripts("alice@example.com")


def test_the_active_script_is_not_deleted(alice, alice_script):
    page = alice.get("/mail/settings/scripts/delete/?name=main").content.decode()
    assert 'id="active-note"' in page and 'id="confirm"' not in page
    response = alice.post("/mail/settings/scripts/delete/?name=main")
    assert response.status_code == 400 and "active" in response.content.decode()
    assert "main" in scripts("alice@example.com")


def test_unknown_names_are_404(alice):
    assert alice.get("/mail/settings/scripts/edit/?name=nope").status_code == 404
    assert alice.get("/mail/settings/scripts/delete/?name=nope").status_code == 404
    assert alice.post("/mail/settings/scripts/activate/", {"name": "nope"}).status_code == 404


def test_bob_cannot_see_or_touch_alices_scripts(example_com, alice_script, login):
    bob = login("bob@example.com")
    assert "main" not in bob.get("/mail/settings/").content.decode().split('id="scripts"')[1].split("</section>")[0]
    assert bob.get("/mail/settings/scripts/edit/?name=main").status_code == 404
    assert bob.post("/mail/settings/scripts/edit/?name=main", {"name": "main", "script": "discard;"}).status_code == 404
    assert bob.get("/mail/settings/scripts/delete/?name=main").status_code == 404
    assert bob.post("/mail/settings/scripts/delete/?name=main").status_code == 404
    assert bob.post("/mail/settings/scripts/activate/", {"name": "main"}).status_code == 404
    # A script Bob makes with the same name is his own and leaves Alice's alone.
    assert bob.post("/mail/settings/scripts/edit/", {"name": "main", "script": "discard;"}).status_code == 302
    assert scripts("alice@example.com") == {"main": (GOOD, True)}
    assert scripts("bob@example.com") == {"main": ("discard;", False)}


def test_signed_out_users_are_sent_to_the_login(example_com, alice_script):
    client = Client()
    for url in ("/mail/settings/scripts/edit/?name=main", "/mail/settings/scripts/delete/?name=main"):
        response = client.get(url)
        assert response.status_code == 302 and "/mail/login/" in response["Location"]
    assert client.post("/mail/settings/scripts/activate/", {"name": ""}).status_code == 302
    assert scripts("alice@example.com")["main"][1] is True


def test_every_script_form_needs_the_csrf_token(example_com, alice_script):
    client = Client(enforce_csrf_checks=True)
    client.get("/mail/login/")
    token = client.cookies["csrftoken"].value
    client.post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD, "csrfmiddlewaretoken": token})
    SieveScript.objects.create(mailbox=box("alice@example.com"), name="old", script="keep;")
    assert client.post("/mail/settings/scripts/edit/", {"name": "n", "script": "keep;"}).status_code == 403
    assert client.post("/mail/settings/scripts/edit/?name=main", {"name": "main", "script": "x"}).status_code == 403
    assert client.post("/mail/settings/scripts/delete/?name=old").status_code == 403
    assert client.post("/mail/settings/scripts/activate/", {"name": "old"}).status_code == 403
    assert scripts("alice@example.com") == {"main": (GOOD, True), "old": ("keep;", False)}
    token = client.cookies["csrftoken"].value
    response = client.post("/mail/settings/scripts/activate/", {"name": "old", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and scripts("alice@example.com")["old"][1] is True


def test_the_builders_script_is_marked_and_its_rules_come_back(alice):
    response = alice.post("/mail/settings/filters/new/", {
        "name": "Reports", "active": "1", "cond0_field": "subject", "cond0_op": "contains", "cond0_value": "report",
        "act0_action": "fileinto", "act0_arg": "Reports"})
    assert response.status_code == 302
    [script] = SieveScript.objects.filter(mailbox=box("alice@example.com"))
    assert script.name == "rule-builder" and script.active
    assert script.script.startswith("# Generated by the mailappliance rule builder")
    page = alice.get("/mail/settings/").content.decode()
    assert "made by the filter editor" in page and 'id="builder-status"' in page and "the active one" in page
    editor = alice.get("/mail/settings/scripts/edit/?name=rule-builder").content.decode()
    assert 'id="builder-note"' in editor
    # Deleting the builder's script takes its rules with it: they ran nowhere else.
    alice.post("/mail/settings/scripts/activate/", {"name": ""})
    assert alice.post("/mail/settings/scripts/delete/?name=rule-builder").status_code == 302
    assert not Filter.objects.filter(mailbox=box("alice@example.com")).exists()
