"""ACME against Pebble on loopback: HTTP-01 on our web port, issue, renew, and a running IMAPS
listener presenting each new certificate without a restart."""

from __future__ import annotations

import contextlib
import socket
import ssl
from urllib.parse import urlsplit

import pytest
from cryptography import x509

from agents import acme
from agents.store import Store
from agents.tasks import renew_certificate
from mailappliance.celery import app
from tests.acme.conftest import start_pebble
from tests.browser import screenshot
from tests.dashboard.browser import open_as
from tests.fakes.dns import FakeDNS
from tests.imap.conftest import _run_server

HOST = "mail.example.net"


@contextlib.contextmanager
def pebble_for(live_server, settings, tmp_path, zones):
    """Pebble validating against ``live_server``, DNS from ``zones``; ACME settings pointed at it."""
    port = urlsplit(live_server.url).port
    with FakeDNS(zones) as dns, contextlib.contextmanager(start_pebble)(tmp_path, port, dns.address) as pebble:
        settings.MAILAPP_DNS_SERVER = dns.address  # Health's resolver probe too: nothing leaves loopback
        settings.MAILAPP_ACME_DIRECTORY = pebble.directory
        settings.MAILAPP_ACME_CA_BUNDLE = str(pebble.ca_bundle)
        yield pebble


def presented(port: int, root_pem: bytes | None = None) -> x509.Certificate:
    """The certificate a TLS listener on loopback presents; verified for HOST when ``root_pem`` is given."""
    if root_pem is None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cadata=root_pem.decode())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=HOST) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


@pytest.fixture
def imaps(acme_settings, tmp_path):
    """A real IMAP server whose TLS context comes from MAILAPP_TLS_CERT/KEY, as the agent's does."""
    files = (acme_settings.MAILAPP_TLS_CERT, acme_settings.MAILAPP_TLS_KEY)
    yield from _run_server(Store(tmp_path / "mail"), files)


def test_issue_then_renew_reach_a_running_imaps_listener(live_server, acme_settings, imaps, tmp_path):
    with pebble_for(live_server, acme_settings, tmp_path, {HOST: {"A": ["127.0.0.1"]}}) as pebble:
        first = presented(imaps.tls_port)
        assert first.issuer == first.subject  # the first-start self-signed one

        status = acme.renew()
        assert status["state"] == "issued", status
        root = pebble.root_pem()
        issued = presented(imaps.tls_port, root)  # verifies against Pebble's root, for HOST
        assert issued.serial_number != first.serial_number
        assert "Pebble" in issued.issuer.rfc4514_string()
        assert issued == x509.load_pem_x509_certificate(acme_settings.MAILAPP_TLS_CERT.read_bytes())

        assert acme.renew()["state"] == "not due"  # Pebble's certificate is valid for years
        assert presented(imaps.tls_port, root).serial_number == issued.serial_number

        acme_settings.MAILAPP_ACME_RENEW_DAYS = 100_000  # force the renewal threshold
        assert renew_certificate.apply().get().startswith("issued")  # the task beat runs
        renewed = presented(imaps.tls_port, root)
        assert renewed.serial_number != issued.serial_number
        assert acme.last_status()["state"] == "issued"
        assert not list((acme_settings.MAILAPP_ACME_DIR / "challenges").iterdir())  # tokens cleaned up


def test_the_challenge_path_answers_only_known_tokens(client, acme_settings):
    (acme_settings.MAILAPP_ACME_DIR / "challenges").mkdir(parents=True)
    (acme_settings.MAILAPP_ACME_DIR / "challenges" / "abc_DEF-1").write_bytes(b"abc_DEF-1.thumbprint")
    answer = client.get("/.well-known/acme-challenge/abc_DEF-1")
    assert answer.status_code == 200 and answer.content == b"abc_DEF-1.thumbprint"
    assert answer["Content-Type"].startswith("text/plain")
    assert client.get("/.well-known/acme-challenge/nope").status_code == 404
    assert client.get("/.well-known/acme-challenge/..%2Fstatus.json").status_code == 404


@pytest.fixture
def eager_celery():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.mark.browser
def test_issue_from_the_dashboard_and_see_it_on_health(live_server, page, acme_settings, superuser, tmp_path,
                                                       eager_celery):
    with pebble_for(live_server, acme_settings, tmp_path, {HOST: {"A": ["127.0.0.1"]}}):
        open_as(page, live_server, "/dashboard/")
        assert "not run yet" in page.locator("#acme").inner_text()
        page.click("#acme button[name=acme]")
        page.wait_for_selector(".flash")
        assert page.locator("#acme-state").inner_text() == "issued"
        assert "Pebble" in page.locator("#cert-issuer").inner_text()
        screenshot(page, "dashboard-acme-issued")


@pytest.mark.browser
def test_a_failed_validation_shows_on_health(live_server, page, acme_settings, superuser, tmp_path, eager_celery):
    with pebble_for(live_server, acme_settings, tmp_path, {}):  # HOST does not resolve: Pebble cannot validate
        open_as(page, live_server, "/dashboard/")
        page.click("#acme button[name=acme]")
        page.wait_for_selector(".flash")
        assert page.locator("#acme-state").inner_text() == "failed"
        assert "certificate (ACME) failed" in page.locator("#problems").inner_text()
        assert acme_settings.MAILAPP_TLS_CERT.exists()  # the self-signed one keeps serving
        screenshot(page, "dashboard-acme-failed")
