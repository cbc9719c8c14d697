"""Repeated failed logins or codes lock the user name out for a while."""

from django.test import Client

from tests.dashboard.conftest import STAFF_PASSWORD


def attempt(client, password):
    return client.post("/dashboard/login/", {"username": "root", "password": password})


def test_after_too_many_wrong_passwords_even_the_right_one_waits(client, superuser, settings):
    settings.MAILAPP_AUTH_MAX_FAILURES = 3
    for _ in range(3):
        assert attempt(client, "wrong").status_code == 400
    response = attempt(client, STAFF_PASSWORD)
    assert response.status_code == 429 and "Too many failed logins" in response.content.decode()


def test_a_success_before_the_limit_forgives_earlier_failures(client, superuser, settings):
    settings.MAILAPP_AUTH_MAX_FAILURES = 3
    attempt(client, "wrong")
    attempt(client, "wrong")
    assert attempt(Client(), STAFF_PASSWORD).status_code == 302
    attempt(client, "wrong")
    attempt(client, "wrong")
    assert attempt(Client(), STAFF_PASSWORD).status_code == 302


def test_wrong_codes_on_the_second_step_are_throttled_too(client, superuser, settings):
    from webadmin.dashboard import otp

    settings.MAILAPP_AUTH_MAX_FAILURES = 2
    otp.begin(superuser)
    superuser.staff_totp.confirmed = True
    superuser.staff_totp.save()
    client.login(username="root", password=STAFF_PASSWORD)
    for _ in range(2):
        assert client.post("/dashboard/login/verify/", {"code": "000000"}).status_code == 400
    assert client.post("/dashboard/login/verify/", {"code": "000000"}).status_code == 429
