"""Signing in to webmail: mail address + password, throttled, never a staff session."""

from django.contrib.auth import SESSION_KEY as DJANGO_USER_KEY
from django.test import Client

from tests.conftest import PASSWORD
from webadmin.models import Mailbox


def test_a_mailbox_user_signs_in_and_sees_the_inbox(example_com, alice_store):
    client = Client()
    response = client.post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert b"INBOX" in response.content
    assert "alice@example.com" in response.content.decode() or b"Alice Example" in response.content


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(example_com):
    response = Client().post("/mail/login/", {"address": "alice@example.com", "password": "nope"})
    assert response.status_code == 403
    assert b"Wrong address or password" in response.content


def test_pages_need_a_webmail_session(example_com):
    response = Client().get("/mail/?folder=INBOX")
    assert response.status_code == 302
    assert response["Location"].startswith("/mail/login/?next=")


def test_a_webmail_session_grants_no_django_user_and_no_admin(alice):
    assert DJANGO_USER_KEY not in alice.session
    response = alice.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_mailbox_webmail_permission_is_honoured(example_com):
    Mailbox.objects.filter(local_part="alice").update(can_webmail=False)
    response = Client().post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 403


def test_revoking_webmail_ends_a_running_session(alice):
    mailbox = Mailbox.objects.get(local_part="alice")
    mailbox.can_webmail = False
    mailbox.save()
    from agents import config

    config.invalidate()
    assert alice.get("/mail/").status_code == 302


def test_failures_are_throttled_per_address(example_com, settings):
    settings.MAILAPP_AUTH_MAX_FAILURES = 3
    client = Client()
    for _ in range(3):
        client.post("/mail/login/", {"address": "alice@example.com", "password": "wrong"})
    response = client.post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.content
    assert "webmail_mailbox" not in client.session


def test_failures_are_throttled_per_client_ip_across_addresses(example_com, settings):
    settings.MAILAPP_AUTH_MAX_FAILURES = 2  # per IP: four times that
    client = Client()
    for number in range(8):
        client.post("/mail/login/", {"address": f"nobody{number}@example.com", "password": "wrong"})
    response = client.post("/mail/login/", {"address": "bob@example.com", "password": PASSWORD})
    assert b"Too many failed attempts" in response.content


def test_the_session_cookie_is_httponly(example_com):
    client = Client()
    client.post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD})
    assert client.cookies["sessionid"]["httponly"]


def test_login_needs_the_csrf_token(example_com):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert "webmail_mailbox" not in client.session


def test_pages_carry_a_content_security_policy(alice):
    response = alice.get("/mail/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"


def test_next_never_leaves_the_webmail(example_com):
    response = Client().post(
        "/mail/login/", {"address": "alice@example.com", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/mail/"


def test_a_password_change_elsewhere_ends_the_session(alice):
    mailbox = Mailbox.objects.get(local_part="alice")
    mailbox.set_password("another long password")
    mailbox.save()
    assert alice.get("/mail/").status_code == 302


def test_logging_out_ends_the_session(alice):
    alice.post("/mail/logout/")
    assert alice.get("/mail/").status_code == 302


def test_addresses_are_matched_without_case_and_with_unicode_domains(example_com, make_mailbox):
    make_mailbox("jürgen@bücher.example")
    assert Client().post("/mail/login/", {"address": "ALICE@Example.COM", "password": PASSWORD}).status_code == 302
    response = Client().post("/mail/login/", {"address": "jürgen@bücher.example", "password": PASSWORD})
    assert response.status_code == 302


def test_the_address_throttle_counts_every_spelling_of_the_address(example_com, settings):
    from webadmin.models import Domain, DomainAlias

    DomainAlias.objects.create(name="example.net", target=Domain.objects.get(name="example.com"))
    settings.MAILAPP_AUTH_MAX_FAILURES = 3
    for spelling in ("alice@example.com", "Alice@EXAMPLE.com", "alice@example.net"):
        Client(REMOTE_ADDR="192.0.2.1").post("/mail/login/", {"address": spelling, "password": "wrong"})
    response = Client(REMOTE_ADDR="192.0.2.1").post(
        "/mail/login/", {"address": "alice@example.com", "password": PASSWORD}
    )
    assert response.status_code == 429
    # One guesser cannot lock alice out of her own mail from elsewhere (that takes many addresses).
    elsewhere = Client(REMOTE_ADDR="192.0.2.2").post(
        "/mail/login/", {"address": "alice@example.com", "password": PASSWORD}
    )
    assert elsewhere.status_code == 302


def test_next_cannot_be_bent_out_of_the_webmail(example_com):
    for target in ("/mail/..//evil.example/", "/mail/\\\\evil.example", "//evil.example/mail/", "/mail/\r\nX: y"):
        response = Client().post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD, "next": target})
        assert response["Location"] == "/mail/", target
