"""TLS for the protocol agents: a self-signed certificate made on first start."""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def ensure_certificate(cert_path: Path, key_path: Path, hostname: str) -> bool:
    """Make a self-signed certificate for ``hostname`` unless one exists; True if made.

    Agents may start at once: a lock file makes one of them generate the pair while
    the others wait, and each file is written under a temporary name and renamed,
    so nobody ever loads a key that does not match its certificate.
    """
    if cert_path.exists() and key_path.exists():
        return False
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    with open(cert_path.parent / ".tls.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cert_path.exists() and key_path.exists():
            return False
        _generate(cert_path, key_path, hostname)
    return True


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _generate(cert_path: Path, key_path: Path, hostname: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64])])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(hostname), x509.DNSName("localhost")]
    alt_names += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    _write_atomically(key_path, key_pem, 0o600)
    _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2+) for STARTTLS and the implicit-TLS ports."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_path), str(key_path))
    return context


def certificate_expiry(cert_path: Path) -> datetime.datetime | None:
    """When the certificate stops being valid (the dashboard shows it)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return None
    return cert.not_valid_after_utc


def settings_server_context() -> ssl.SSLContext:
    """The server context from settings, making the certificate first if needed."""
    from django.conf import settings

    ensure_certificate(settings.MAILAPP_TLS_CERT, settings.MAILAPP_TLS_KEY, settings.MAILAPP_HOSTNAME)
    return server_context(settings.MAILAPP_TLS_CERT, settings.MAILAPP_TLS_KEY)
