"""Pebble, the ACME test server from Debian's ``pebble`` package, on loopback.

Pebble's own HTTPS uses a certificate made here (the ACME client trusts it through
MAILAPP_ACME_CA_BUNDLE). Its validation authority resolves names through a FakeDNS
(``-dnsserver``) and fetches HTTP-01 answers from ``httpPort``: the test's web server.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from agents.tls import ensure_certificate
from tests.ports import free_port

PEBBLE = "/usr/bin/pebble"




@dataclass
class Pebble:
    directory: str  # https://127.0.0.1:<port>/dir
    ca_bundle: Path  # trust for Pebble's own HTTPS
    management: str  # https://127.0.0.1:<port>: /roots/0 is the root that signs what it issues
    log: Path

    def root_pem(self) -> bytes:
        response = requests.get(f"{self.management}/roots/0", verify=str(self.ca_bundle), timeout=10)
        response.raise_for_status()
        return response.content


def start_pebble(folder: Path, http_port: int, dns_address: str) -> Iterator[Pebble]:
    """Run Pebble until the generator is closed; validation goes to ``http_port`` on what DNS answers."""
    cert, key = folder / "pebble-cert.pem", folder / "pebble-key.pem"
    ensure_certificate(cert, key, "localhost")  # names 127.0.0.1 too
    port, management = free_port(), free_port()
    config = {"pebble": {
        "listenAddress": f"127.0.0.1:{port}", "managementListenAddress": f"127.0.0.1:{management}",
        "certificate": str(cert), "privateKey": str(key), "httpPort": http_port, "tlsPort": free_port(),
        "ocspResponderURL": "", "externalAccountBindingRequired": False,
    }}
    (folder / "pebble.json").write_text(json.dumps(config))
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}
    log = folder / "pebble.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([PEBBLE, "-config", str(folder / "pebble.json"), "-dnsserver", dns_address,
                                 "-strict"], stdout=out, stderr=subprocess.STDOUT, env=env)
    pebble = Pebble(f"https://127.0.0.1:{port}/dir", cert, f"https://127.0.0.1:{management}", log)
    try:
        deadline = time.monotonic() + 60  # Pebble starts in well under a second, on a loaded CI machine in more
        while True:
            try:
                if requests.get(pebble.directory, verify=str(cert), timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "Pebble did not start: " + log.read_text()
            time.sleep(0.1)
        yield pebble
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def acme_settings(settings, tmp_path):
    """TLS files and ACME state in this test's folder, for the host mail.example.net."""
    settings.MAILAPP_HOSTNAME = "mail.example.net"
    settings.MAILAPP_TLS_CERT = tmp_path / "tls" / "cert.pem"
    settings.MAILAPP_TLS_KEY = tmp_path / "tls" / "key.pem"
    settings.MAILAPP_ACME_DIR = tmp_path / "acme"
    settings.MAILAPP_ACME_EMAIL = "postmaster@example.net"
    ensure_certificate(settings.MAILAPP_TLS_CERT, settings.MAILAPP_TLS_KEY, "mail.example.net")  # first start
    return settings


@pytest.fixture
def superuser(db, settings):
    """The dashboard's staff user (tests.dashboard.browser.open_as logs in with its password)."""
    from django.contrib.auth.models import User

    from tests.dashboard.conftest import STAFF_PASSWORD

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return User.objects.create_superuser("root", "root@example.com", STAFF_PASSWORD)
