"""Optional TOTP second factor: enrol with a code, then login needs one, once."""

import time

import pyotp
import pytest
from django.test import Client

from tests.dashboard.conftest import STAFF_PASSWORD
from webadmin.dashboard.models import StaffTOTP


def login(client, code=""):
    return client.post("/dashboard/login/", {"username": "root", "password": STAFF_PASSWORD, "code": code})


@pytest.fixture
def enrolled(client, superuser):
    """root with TOTP confirmed; returns the pyotp.TOTP that makes its codes."""
    client.login(username="root", password=STAFF_PASSWORD)
    page = client.post("/dashboard/account/otp/", {"action": "begin"}).content.decode()
    assert "otpauth://totp/" in page and "<svg" in page
    totp = pyotp.TOTP(StaffTOTP.objects.get(user=superuser).secret)
    client.post("/dashboard/account/otp/", {"action": "confirm", "code": totp.at(time.time() - 30)})
    assert StaffTOTP.objects.get(user=superuser).confirmed
    client.logout()
    return totp


def test_without_enrolment_the_password_is_enough(client, superuser):
    assert login(client).url == "/dashboard/"


def test_enrolment_needs_a_matching_code(client, superuser):
    client.login(username="root", password=STAFF_PASSWORD)
    client.post("/dashboard/account/otp/", {"action": "begin"})
    client.post("/dashboard/account/otp/", {"action": "confirm", "code": "000000"})
    assert not StaffTOTP.objects.get(user=superuser).confirmed


def test_once_enrolled_login_without_a_code_fails(client, enrolled):
    response = login(client)
    assert response.status_code == 400 and "6-digit code" in response.content.decode()
    assert client.get("/dashboard/queue/").status_code == 302


def test_once_enrolled_login_with_the_current_code_succeeds(client, enrolled):
    assert login(client, enrolled.now()).url == "/dashboard/"
    assert client.get("/dashboard/queue/").status_code == 200


def test_a_code_cannot_be_used_twice(client, enrolled):
    code = enrolled.now()
    assert login(client, code).status_code == 302
    again = Client()
    assert login(again, code).status_code == 400


def test_a_session_from_the_admin_login_must_still_give_a_code(client, enrolled):
    client.login(username="root", password=STAFF_PASSWORD)  # what /admin/login/ does
    response = client.get("/dashboard/queue/")
    assert response.url.startswith("/dashboard/login/verify/")
    assert client.post("/dashboard/login/verify/?next=/dashboard/queue/", {"code": enrolled.now()}).url == (
        "/dashboard/queue/"
    )
    assert client.get("/dashboard/queue/").status_code == 200


def test_login_refuses_a_foreign_next_url(client, superuser):
    response = client.post(
        "/dashboard/login/", {"username": "root", "password": STAFF_PASSWORD, "next": "https://evil.test/"}
    )
    assert response.url == "/dashboard/"


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "0" * 5000])
def test_malformed_codes_are_refused_quietly(client, enrolled, code):
    assert login(client, code).status_code == 400


def test_switching_off_needs_a_current_code(client, enrolled, superuser):
    assert login(client, enrolled.now()).status_code == 302
    client.post("/dashboard/account/otp/", {"action": "disable", "code": "000000"})
    assert StaffTOTP.objects.filter(user=superuser, confirmed=True).exists()
    client.post("/dashboard/account/otp/", {"action": "disable", "code": enrolled.at(time.time() + 30)})
    assert not StaffTOTP.objects.filter(user=superuser).exists()
    assert login(Client()).status_code == 302  # the password alone is enough again
