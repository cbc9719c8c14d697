"""A listener's context hands each new handshake the certificate now on disk: a renewal needs no restart,
and a half-replaced pair (new key, old chain) keeps the previous certificate serving."""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509

from agents.tls import ensure_certificate, server_context


def handshake(context: ssl.SSLContext, server_name: str | None = "mail.example.com") -> x509.Certificate:
    """One TLS handshake in memory (no socket) against ``context``; the certificate the server presented."""
    client_context = ssl.create_default_context()
    client_context.check_hostname = False
    client_context.verify_mode = ssl.CERT_NONE
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context.wrap_bio(c_in, c_out, server_hostname=server_name)
    server = context.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(20):  # bounded: a TLS 1.3 handshake takes two or three rounds
        done = 0
        for side in (client, server):
            try:
                side.do_handshake()
                done += 1
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if done == 2:
            break
    der = client.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def replace_pair(folder: Path, target: Path, hostname: str) -> tuple[bytes, bytes]:
    """A new self-signed pair made beside ``target``; returns (cert, key) bytes."""
    ensure_certificate(folder / "cert.pem", folder / "key.pem", hostname)
    return (folder / "cert.pem").read_bytes(), (folder / "key.pem").read_bytes()


def test_a_replaced_certificate_reaches_the_next_handshake(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ensure_certificate(cert, key, "old.example.com")
    context = server_context(cert, key)
    assert "old.example.com" in handshake(context).subject.rfc4514_string()

    new_cert, new_key = replace_pair(tmp_path / "new", cert, "new.example.com")
    key.write_bytes(new_key)
    cert.write_bytes(new_cert)
    assert "new.example.com" in handshake(context).subject.rfc4514_string()
    assert "new.example.com" in handshake(context, server_name=None).subject.rfc4514_string()  # no SNI too


def test_a_half_replaced_pair_keeps_the_previous_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ensure_certificate(cert, key, "old.example.com")
    context = server_context(cert, key)
    new_cert, new_key = replace_pair(tmp_path / "new", cert, "new.example.com")

    key.write_bytes(new_key)  # the chain is not written yet: the pair does not match
    assert "old.example.com" in handshake(context).subject.rfc4514_string()

    cert.write_bytes(new_cert)
    assert "new.example.com" in handshake(context).subject.rfc4514_string()


def test_a_uvloop_listener_reloads_too(tmp_path):
    """The SMTP agent runs on uvloop, whose TLS is its own: the same context must reload there."""
    import asyncio
    import socket

    import uvloop

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ensure_certificate(cert, key, "old.example.com")
    context = server_context(cert, key)
    new_cert, new_key = replace_pair(tmp_path / "new", cert, "new.example.com")

    def presented(port: int) -> str:
        client = ssl.create_default_context()
        client.check_hostname = False
        client.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with client.wrap_socket(raw, server_hostname="mail.example.com") as tls:
                der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def run() -> list[str]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        seen = [await asyncio.to_thread(presented, port)]
        key.write_bytes(new_key)
        cert.write_bytes(new_cert)
        seen.append(await asyncio.to_thread(presented, port))
        server.close()
        await server.wait_closed()
        return seen

    assert uvloop.run(run()) == ["CN=old.example.com", "CN=new.example.com"]
