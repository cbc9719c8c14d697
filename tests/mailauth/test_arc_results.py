"""ARC on the way in: the MX door records arc=pass, fail or none in Authentication-Results."""

from __future__ import annotations

import base64

import dkim as dkimpy
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from agents.mailauth import arc, inbound
from tests.mailauth.conftest import message


def remote_key(dns_server, domain: str = "forwarder.example", selector: str = "arc1") -> bytes:
    """An RSA key of an outside forwarder, its public half published in the loopback DNS."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
    dns_server.zones[f"{selector}._domainkey.{domain}"] = {"TXT": [record]}
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def sealed_by_forwarder(dns_server) -> bytes:
    private = remote_key(dns_server)
    raw = b"Authentication-Results: mx.forwarder.example; spf=pass smtp.mailfrom=alice@sender.example\r\n" + message()
    seal = dkimpy.arc_sign(raw, b"arc1", b"forwarder.example", private, b"mx.forwarder.example",
                           include_headers=[b"from", b"to", b"subject", b"message-id"])
    return b"".join(seal) + raw


def results(raw: bytes) -> bytes:
    verdict = inbound.check(raw, "192.0.2.1", "mx.forwarder.example", "alice@sender.example", ["bob@example.com"])
    assert verdict.reply is None
    return verdict.raw.split(b"\r\n\r\n", 1)[0]


def test_a_valid_arc_chain_is_recorded_as_pass(example_com, dns):
    raw = sealed_by_forwarder(dns)
    assert arc.verify(raw).result == "pass"
    assert b"arc=pass" in results(raw)


def test_a_broken_arc_chain_is_recorded_as_fail(example_com, dns):
    raw = sealed_by_forwarder(dns).replace(b"Hello", b"Hellx")  # the subject changed after the seal
    assert arc.verify(raw).result == "fail"
    assert b"arc=fail" in results(raw)


def test_mail_without_arc_is_recorded_as_none(example_com, dns):
    assert b"arc=none" in results(message())
