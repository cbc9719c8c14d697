"""Failed logins for one account from many addresses lock it briefly, and the dashboard says so."""

import logging

from django.test import Client

from agents.models import LoginLock
from tests.conftest import PASSWORD
from tests.dashboard.conftest import STAFF_PASSWORD


def webmail_login(ip, password):
    return Client(REMOTE_ADDR=ip).post("/mail/login/", {"address": "alice@example.com", "password": password})


def test_guesses_from_many_addresses_lock_the_account_with_an_alert(client, superuser, example_com, settings, caplog):
    settings.MAILAPP_AUTH_ACCOUNT_MAX_FAILURES = 6
    settings.MAILAPP_AUTH_ACCOUNT_MIN_ADDRESSES = 3
    caplog.set_level(logging.WARNING, logger="agents.loginguard")
    for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        for _ in range(2):  # each address stays under its own limit (5)
            assert webmail_login(ip, "wrong").status_code == 403
    assert webmail_login("198.51.100.7", PASSWORD).status_code == 429  # a fresh address, the right password
    assert any("alice@example.com locked" in r.getMessage() for r in caplog.records)

    lock = LoginLock.objects.get()
    assert (lock.account, lock.addresses, lock.failures) == ("alice@example.com", 3, 6)
    client.post("/dashboard/login/", {"username": "root", "password": STAFF_PASSWORD})
    page = client.get("/dashboard/").content.decode()
    assert 'id="login-locks"' in page and "login locked for alice@example.com" in page


def test_failures_from_one_address_lock_only_that_address(superuser, example_com, settings):
    settings.MAILAPP_AUTH_ACCOUNT_MAX_FAILURES = 6
    for _ in range(10):
        webmail_login("192.0.2.1", "wrong")
    assert webmail_login("192.0.2.1", PASSWORD).status_code == 429
    assert webmail_login("198.51.100.7", PASSWORD).status_code == 302
    assert not LoginLock.objects.exists()
