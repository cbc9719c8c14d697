"""The dashboard's Sieve scripts of a mailbox: list, activate, create, edit, rename, delete (confirmed).

A superuser reaches every mailbox; a domain admin only their domains' (404 elsewhere,
nothing changed); every form needs the CSRF token.
"""

from __future__ import annotations

import html

import pytest
from django.test import Client

from tests.dashboard.conftest import STAFF_PASSWORD
from webadmin.models import Mailbox, SieveScript

ALICE = "/dashboard/domains/example.com/mailboxes/alice/"
CAROL = "/dashboard/domains/example.org/mailboxes/carol/"
GOOD = 'require "fileinto";\nfileinto "Sorted";\n'


def box(address: str) -> Mailbox:
    local, _, domain = address.partition("@")
    return Mailbox.objects.get(local_part=local, domain__name=domain)


def scripts(address: str) -> dict[str, tuple[str, bool]]:
    return {s.name: (s.script, s.active) for s in SieveScript.objects.filter(mailbox=box(address))}


@pytest.fixture
def mailboxes(example_com, make_mailbox):
    make_mailbox("carol@example.org")
    SieveScript.objects.create(mailbox=box("alice@example.com"), name="main", script=GOOD, active=True)
    SieveScript.objects.create(mailbox=box("carol@example.org"), name="carols", script=GOOD, active=True)


@pytest.fixture
def root(client, superuser, mailboxes):
    client.login(username="root", password=STAFF_PASSWORD)
    return client


@pytest.fixture
def com_admin(client, make_domain_admin, mailboxes):
    make_domain_admin("comadmin", "example.com")
    client.login(username="comadmin", password=STAFF_PASSWORD)
    return client


def test_the_mailbox_page_lists_the_scripts(root):
    SieveScript.objects.create(mailbox=box("alice@example.com"), name="spare", script="keep;")
    page = root.get(ALICE).content.decode()
    section = page.split('id="scripts"')[1].split("</section>")[0]
    assert 'data-script="main"' in section and 'data-script="spare"' in section
    assert "active-script" in section.split('data-script="main"')[1].split("</tr>")[0]
    assert "carols" not in section


def test_create_edit_rename_and_activate(root):
    response = root.post(ALICE + "scripts/edit/", {"name": "spare", "script": "keep;\n"})
    assert response.status_code == 302 and response["Location"].endswith(ALICE + "#scripts")
    response = root.post(ALICE + "scripts/edit/?name=spare", {"name": "sorting", "script": "discard;\n"})
    assert response.status_code == 302
    assert root.post(ALICE + "scripts/activate/", {"name": "sorting"}).status_code == 302
    assert scripts("alice@example.com") == {"main": (GOOD, False), "sorting": ("discard;\n", True)}


def test_a_syntax_error_is_a_form_error_with_its_line(root):
    text = 'require "fileinto";\nfileinto "x";\nif true { stop; }\nelsif;\n'
    response = root.post(ALICE + "scripts/edit/?name=main", {"name": "main", "script": text})
    assert response.status_code == 400
    alert = html.unescape(response.content.decode()).split('role="alert"')[1].split("</p>")[0]
    assert alert.startswith(' id="script-error">Line 4: ')
    assert scripts("alice@example.com")["main"] == (GOOD, True)


def test_delete_goes_through_a_confirmation_page(root):
    SieveScript.objects.create(mailbox=box("alice@example.com"), name="old", script="keep;")
    page = root.get(ALICE + "scripts/delete/?name=old").content.decode()
    assert 'id="confirm-delete"' in page and 'id="confirm"' in page and "old" in scripts("alice@example.com")
    assert root.post(ALICE + "scripts/delete/?name=old").status_code == 302
    assert "old" not in scripts("alice@example.com")
    page = root.get(ALICE + "scripts/delete/?name=main").content.decode()
    assert 'id="active-note"' in page and 'id="confirm"' not in page
    assert root.post(ALICE + "scripts/delete/?name=main").status_code == 400
    assert "main" in scripts("alice@example.com")


def test_a_domain_admin_manages_scripts_in_their_domain(com_admin):
    assert com_admin.get(ALICE).status_code == 200
    assert com_admin.post(ALICE + "scripts/edit/", {"name": "theirs", "script": "keep;"}).status_code == 302
    assert "theirs" in scripts("alice@example.com")


def test_a_domain_admin_cannot_reach_another_domains_scripts(com_admin):
    assert com_admin.get(CAROL).status_code == 404
    assert com_admin.get(CAROL + "scripts/edit/?name=carols").status_code == 404
    assert com_admin.post(CAROL + "scripts/edit/?name=carols", {"name": "carols", "script": "discard;"}) \
        .status_code == 404
    assert com_admin.post(CAROL + "scripts/edit/", {"name": "planted", "script": "discard;"}).status_code == 404
    assert com_admin.get(CAROL + "scripts/delete/?name=carols").status_code == 404
    assert com_admin.post(CAROL + "scripts/activate/", {"name": ""}).status_code == 404
    assert scripts("carol@example.org") == {"carols": (GOOD, True)}


def test_a_script_name_is_looked_up_in_that_mailbox_only(root):
    # Carol's script name under Alice's URL is no script of Alice's.
    assert root.get(ALICE + "scripts/edit/?name=carols").status_code == 404
    assert root.post(ALICE + "scripts/delete/?name=carols").status_code == 404
    assert root.post(ALICE + "scripts/activate/", {"name": "carols"}).status_code == 404
    assert scripts("carol@example.org") == {"carols": (GOOD, True)}


def test_non_staff_are_sent_to_the_login(mailboxes):
    response = Client().post(ALICE + "scripts/activate/", {"name": ""})
    assert response.status_code == 302 and "/dashboard/login/" in response["Location"]
    assert scripts("alice@example.com")["main"][1] is True


def test_every_script_form_needs_the_csrf_token(superuser, mailboxes):
    strict = Client(enforce_csrf_checks=True)
    strict.login(username="root", password=STAFF_PASSWORD)
    SieveScript.objects.create(mailbox=box("alice@example.com"), name="old", script="keep;")
    assert strict.post(ALICE + "scripts/edit/", {"name": "n", "script": "keep;"}).status_code == 403
    assert strict.post(ALICE + "scripts/edit/?name=main", {"name": "main", "script": "x"}).status_code == 403
    assert strict.post(ALICE + "scripts/delete/?name=old").status_code == 403
    assert strict.post(ALICE + "scripts/activate/", {"name": "old"}).status_code == 403
    assert scripts("alice@example.com") == {"main": (GOOD, True), "old": ("keep;", False)}
    strict.get(ALICE)
    token = strict.cookies["csrftoken"].value
    assert strict.post(ALICE + "scripts/delete/?name=old", {"csrfmiddlewaretoken": token}).status_code == 302
    assert "old" not in scripts("alice@example.com")
