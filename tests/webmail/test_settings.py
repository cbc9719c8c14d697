"""The user's own settings: password, filters (validated by Filter.clean), vacation, forwarding."""

from django.test import Client

from tests.conftest import PASSWORD
from webadmin.models import Filter, Mailbox


def test_the_password_change_checks_the_old_one(alice):
    response = alice.post(
        "/mail/settings/",
        {"what": "password", "old_password": "wrong", "new_password": "a new long passphrase",
         "new_password2": "a new long passphrase"},
        follow=True,
    )  # fmt: skip
    assert b"current password is not right" in response.content
    assert Mailbox.objects.get(local_part="alice").check_password(PASSWORD)


def test_the_password_change_works_and_keeps_this_session(alice):
    alice.post(
        "/mail/settings/",
        {"what": "password", "old_password": PASSWORD, "new_password": "a new long passphrase",
         "new_password2": "a new long passphrase"},
    )  # fmt: skip
    assert Mailbox.objects.get(local_part="alice").check_password("a new long passphrase")
    assert alice.get("/mail/").status_code == 200
    refused = Client().post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD})
    assert refused.status_code == 403


def test_a_filter_is_created_from_the_editor(alice):
    response = alice.post(
        "/mail/settings/filters/new/",
        {"name": "Lists", "active": "1", "match": "all", "cond0_field": "header", "cond0_header": "List-Id",
         "cond0_op": "contains", "cond0_value": "django", "act0_action": "fileinto", "act0_arg": "Lists/Django"},
    )  # fmt: skip
    assert response.status_code == 302
    rule = Filter.objects.get(mailbox__local_part="alice", name="Lists")
    assert rule.conditions == [{"field": "header", "header": "List-Id", "op": "contains", "value": "django"}]
    assert rule.actions == [{"action": "fileinto", "folder": "Lists/Django"}]


def test_filter_rules_are_checked_by_the_model(alice):
    response = alice.post(
        "/mail/settings/filters/new/",
        {"name": "Bad", "cond0_field": "subject", "cond0_op": "matches", "cond0_value": "([", "act0_action": "flag"},
    )
    assert response.status_code == 400 and b"not a valid regular expression" in response.content
    assert not Filter.objects.filter(name="Bad").exists()


def test_a_filter_is_changed_and_deleted(alice):
    alice_box = Mailbox.objects.get(local_part="alice")
    rule = Filter.objects.create(mailbox=alice_box, name="x", actions=[{"action": "flag"}])
    alice.post(f"/mail/settings/filters/{rule.pk}/", {"name": "y", "act0_action": "mark_read"})
    rule.refresh_from_db()
    assert rule.name == "y" and rule.actions == [{"action": "mark_read"}] and not rule.active
    alice.post(f"/mail/settings/filters/{rule.pk}/", {"name": "y", "delete": "1"})
    assert not Filter.objects.filter(pk=rule.pk).exists()


def test_vacation_is_an_autoreply_filter(alice):
    alice.post("/mail/settings/", {"what": "vacation", "active": "1", "subject": "Away", "body": "Back Monday.",
                                   "days": "3"})  # fmt: skip
    rule = Filter.objects.get(mailbox__local_part="alice", name="Vacation auto-reply")
    assert rule.active and rule.conditions == []
    assert rule.actions == [{"action": "autoreply", "subject": "Away", "body": "Back Monday.", "days": 3}]
    alice.post("/mail/settings/", {"what": "vacation", "subject": "Away", "body": "Back Monday.", "days": "3"})
    rule.refresh_from_db()
    assert not rule.active


def test_forwarding_is_a_forward_or_redirect_filter(alice):
    alice.post("/mail/settings/", {"what": "forwarding", "active": "1", "address": "me@example.net", "keep": "0"})
    rule = Filter.objects.get(mailbox__local_part="alice", name="Forwarding")
    assert rule.actions == [{"action": "redirect", "address": "me@example.net"}]
    response = alice.post("/mail/settings/", {"what": "forwarding", "active": "1", "address": "not-an-address"},
                          follow=True)  # fmt: skip
    assert b"Action 1" in response.content


def test_an_autoreply_subject_with_line_breaks_is_refused(alice):
    response = alice.post(
        "/mail/settings/",
        {"what": "vacation", "active": "1", "subject": "Away\r\nBcc: victim@example.net", "body": "b", "days": "3"},
        follow=True,
    )
    assert b"may not contain line breaks" in response.content
    assert not Filter.objects.filter(name="Vacation auto-reply").exists()


def test_an_autoreply_subject_with_an_encoded_line_break_is_refused(alice):
    response = alice.post(
        "/mail/settings/",
        {"what": "vacation", "active": "1", "subject": "=?UTF-8?Q?Away=0ABcc:_victim@example.net?=", "body": "b",
         "days": "3"},
        follow=True,
    )
    assert b"may not contain line breaks" in response.content
    assert not Filter.objects.filter(name="Vacation auto-reply").exists()
