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


def write_atomically(path: Path, data: bytes, mode: int) -> None:
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
    write_atomically(key_path, key_pem, 0o600)
    write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _plain_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_path), str(key_path))
    return context


class CertificateReloader:
    """Hands each new TLS handshake the certificate now on disk (a renewal needs no restart).

    It is the context's ``sni_callback``, which OpenSSL calls on every ClientHello (with
    or without a server name), before the certificate is chosen. When the files' stat
    stamps changed it loads them into a fresh context, and points the connection at the
    newest good context. A pair that does not load (the key written, the chain not yet)
    keeps the previous one until the next handshake tries again.
    """

    def __init__(self, cert_path: Path, key_path: Path, context: ssl.SSLContext) -> None:
        self.cert_path, self.key_path = cert_path, key_path
        self.stamp = self._stamp()
        self.current = context

    def _stamp(self) -> tuple[tuple[int, int, int], ...] | None:
        try:
            return tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in (os.stat(self.cert_path),
                                                                        os.stat(self.key_path)))
        except OSError:
            return None

    def __call__(self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None,
                 context: ssl.SSLContext) -> None:
        stamp = self._stamp()
        if stamp is not None and stamp != self.stamp:
            try:
                self.current = _plain_context(self.cert_path, self.key_path)
                self.stamp = stamp
            except (OSError, ssl.SSLError):
                pass  # half-written pair: keep serving the previous one
        if self.current is not context:
            connection.context = self.current


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2+) for STARTTLS and the implicit-TLS ports.

    Every listener builds its context here, so a renewed certificate (agents.acme, or an
    admin replacing the files) reaches each new connection without a restart.
    """
    context = _plain_context(cert_path, key_path)
    context.sni_callback = CertificateReloader(cert_path, key_path, context)
    return context


def certificate_expiry(cert_path: Path) -> datetime.datetime | None:
    """When the certificate stops being valid (the dashboard shows it)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return None
    return cert.not_valid_after_utc


def certificate_issuer(cert_path: Path) -> str:
    """The issuer's common name ("" when unreadable); self-signed shows the host name itself."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return ""
    names = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.issuer.rfc4514_string()


def settings_server_context() -> ssl.SSLContext:
    """The server context from settings, making the certificate first if needed."""
    from django.conf import settings

    ensure_certificate(settings.MAILAPP_TLS_CERT, settings.MAILAPP_TLS_KEY, settings.MAILAPP_HOSTNAME)
    return server_context(settings.MAILAPP_TLS_CERT, settings.MAILAPP_TLS_KEY)
