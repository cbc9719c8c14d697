"""Another user's mail is never reachable; the POP3 permission and passwords are honoured."""

from __future__ import annotations

import base64
import poplib

import pytest

from tests.conftest import PASSWORD
from webadmin.models import Mailbox


def test_each_user_sees_only_their_own_maildrop(pop3):
    pop3.deliver("alice@example.com", b"Subject: for alice\r\n\r\nprivate\r\n")
    bob = pop3.login("bob@example.com")
    assert bob.stat() == (0, 0)
    with pytest.raises(poplib.error_proto):
        bob.retr(1)
    bob.quit()


def test_wrong_password_and_unknown_user_fail_alike(pop3):
    for user, password in (("alice@example.com", "wrong"), ("nobody@example.com", PASSWORD)):
        client = pop3.connect()
        client.user(user)
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\] authentication failed"):
            client.pass_(password)
        client.quit()


def test_sasl_plain_cannot_act_for_another_user(pop3):
    pop3.deliver("alice@example.com", b"Subject: for alice\r\n\r\nprivate\r\n")
    client = pop3.connect()
    token = base64.b64encode(f"alice@example.com\0bob@example.com\0{PASSWORD}".encode()).decode()
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client._shortcmd(f"AUTH PLAIN {token}")
    client.quit()


def test_mailbox_without_pop3_permission_cannot_log_in(pop3):
    Mailbox.objects.filter(local_part="alice").update(can_pop3=False)
    from agents import config

    config.invalidate()
    client = pop3.connect()
    client.user("alice@example.com")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client.pass_(PASSWORD)
    client.quit()
