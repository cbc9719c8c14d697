"""Sieve scripts in the Django admin: a plain text editor, errors at their line, one active script."""

from django.contrib.auth.models import User

from webadmin.models import Mailbox, SieveScript


def test_a_script_is_edited_as_text_and_refused_at_its_line(client, example_com):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    alice = Mailbox.objects.get(local_part="alice", domain__name="example.com")
    form = {"mailbox": alice.pk, "name": "main", "active": "on"}
    response = client.post("/admin/webadmin/sievescript/add/",
                           {**form, "script": 'require "fileinto";\r\n\r\nfileinto;\r\n'})
    assert response.status_code == 200 and "line 3" in response.content.decode()
    assert not SieveScript.objects.exists()
    first = SieveScript.objects.create(mailbox=alice, name="old", script="keep;", active=True)
    response = client.post("/admin/webadmin/sievescript/add/", {**form, "script": 'require "fileinto"; fileinto "X";'})
    assert response.status_code == 302
    first.refresh_from_db()
    assert SieveScript.objects.get(name="main").active and not first.active
