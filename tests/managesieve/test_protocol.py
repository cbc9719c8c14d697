"""ManageSieve (RFC 5804) over a raw socket: capabilities, STARTTLS, logins, every script command, quotas."""

import base64
import socket
import ssl

import pytest
from django.conf import settings

from agents.managesieve import parser
from mailcore import sieve as ms
from tests.conftest import PASSWORD
from webadmin.models import SieveScript


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> list[bytes]:
        """Lines up to and including the OK/NO/BYE line (literals read whole)."""
        lines = []
        for _ in range(1000):
            line = self.file.readline()
            assert line, "connection closed"
            size = parser.literal_at_end(line)
            if size is not None:
                line += self.file.read(size) + self.file.readline()
            lines.append(line)
            if line[:2] in (b"OK", b"NO") or line[:3] == b"BYE":
                return lines
        raise AssertionError("no end of response")

    def command(self, data: bytes) -> list[bytes]:
        self.send(data)
        return self.response()

    def starttls(self) -> list[bytes]:
        assert self.command(b"STARTTLS\r\n")[-1].startswith(b"OK")
        context = ssl.create_default_context(cafile=str(settings.MAILAPP_TLS_CERT))
        context.check_hostname = False
        self.file.close()
        self.sock = context.wrap_socket(self.sock)
        self.file = self.sock.makefile("rb")
        return self.response()

    def login(self, user: str = "alice@example.com", password: str = PASSWORD) -> bytes:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.command(f'AUTHENTICATE "PLAIN" "{token}"\r\n'.encode())[-1]


@pytest.fixture
def client(sieved):
    made = Client(sieved.port)
    yield made
    made.close()


def literal(text: str) -> bytes:
    data = text.encode()
    return b"{%d+}\r\n" % len(data) + data


def test_greeting_offers_starttls_and_no_plaintext_sasl_before_tls(client):
    greeting = client.response()
    assert b'"STARTTLS"\r\n' in greeting and b'"SASL" ""\r\n' in greeting
    assert any(b'"SIEVE"' in line and b"vacation" in line for line in greeting)
    assert client.login().startswith(b"NO (ENCRYPT-NEEDED)")
    capabilities = client.starttls()
    assert b'"SASL" "PLAIN LOGIN"\r\n' in capabilities and b'"STARTTLS"\r\n' not in capabilities


def test_wrong_password_is_refused_and_counted_by_the_guard(client):
    from agents.loginguard.db import mail_guard

    client.response()
    client.starttls()
    assert client.login(password="wrong").startswith(b"NO")
    assert mail_guard().check("127.0.0.1", "alice@example.com").failures == 1
    assert client.login().startswith(b"OK")


def test_authenticate_login_with_continuations(client):
    client.response()
    client.starttls()
    client.send(b'AUTHENTICATE "LOGIN"\r\n')
    assert client.file.readline() == b'"VXNlcm5hbWU6"\r\n'
    client.send(b'"' + base64.b64encode(b"alice@example.com") + b'"\r\n')
    assert client.file.readline() == b'"UGFzc3dvcmQ6"\r\n'
    client.send(literal(base64.b64encode(PASSWORD.encode()).decode()) + b"\r\n")
    assert client.response()[-1].startswith(b"OK")


def test_every_script_command(client):
    client.response()
    client.starttls()
    assert client.login().startswith(b"OK")
    script = 'require "fileinto";\r\nif header :contains "subject" "x" { fileinto "X"; }\r\n'
    assert client.command(b'PUTSCRIPT "main" ' + literal(script) + b"\r\n")[-1].startswith(b"OK")
    assert client.command(b'PUTSCRIPT "spare" "keep;"\r\n')[-1].startswith(b"OK")
    assert client.command(b'LISTSCRIPTS\r\n') == [b'"main"\r\n', b'"spare"\r\n', b'OK "Listscripts completed"\r\n']
    assert client.command(b'SETACTIVE "main"\r\n')[-1].startswith(b"OK")
    assert client.command(b'LISTSCRIPTS\r\n')[0] == b'"main" ACTIVE\r\n'
    got = client.command(b'GETSCRIPT "main"\r\n')
    assert got[0] == b"{%d}\r\n" % len(script) + script.encode() + b"\r\n"
    assert client.command(b'DELETESCRIPT "main"\r\n')[-1].startswith(b"NO (ACTIVE)")
    assert client.command(b'RENAMESCRIPT "spare" "main"\r\n')[-1].startswith(b"NO (ALREADYEXISTS)")
    assert client.command(b'RENAMESCRIPT "spare" "other"\r\n')[-1].startswith(b"OK")
    assert client.command(b'DELETESCRIPT "other"\r\n')[-1].startswith(b"OK")
    assert client.command(b'GETSCRIPT "other"\r\n')[-1].startswith(b"NO (NONEXISTENT)")
    assert client.command(b'SETACTIVE ""\r\n')[-1].startswith(b"OK")
    assert not SieveScript.objects.filter(active=True).exists()
    assert client.command(b'NOOP "t1"\r\n') == [b'OK (TAG "t1") "Done"\r\n']
    assert client.command(b"LOGOUT\r\n")[-1].startswith(b"OK")


def test_checkscript_and_putscript_refuse_bad_scripts_with_the_line(client):
    client.response()
    client.starttls()
    client.login()
    reply = client.command(b"CHECKSCRIPT " + literal('require "fileinto";\r\nkeep;\r\nfileinto;\r\n') + b"\r\n")
    assert reply[-1].startswith(b"NO") and b"line 3" in reply[-1]
    assert client.command(b'CHECKSCRIPT "keep;"\r\n')[-1].startswith(b"OK")
    reply = client.command(b'PUTSCRIPT "loop" ' + literal('require "include";\r\ninclude "loop";') + b"\r\n")
    assert reply[-1].startswith(b"NO") and b"include loop" in reply[-1]
    assert not SieveScript.objects.exists()


def test_quotas_on_size_and_count(client, settings):
    client.response()
    client.starttls()
    client.login()
    assert client.command(b'HAVESPACE "big" %d\r\n' % (ms.MAX_SCRIPT + 1))[-1].startswith(b"NO (QUOTA/MAXSIZE)")
    assert client.command(b'HAVESPACE "small" 100\r\n')[-1].startswith(b"OK")
    for number in range(SieveScript.MAX_SCRIPTS):
        assert client.command(b'PUTSCRIPT "s%d" "keep;"\r\n' % number)[-1].startswith(b"OK")
    assert client.command(b'PUTSCRIPT "one-more" "keep;"\r\n')[-1].startswith(b"NO (QUOTA/MAXSCRIPTS)")
    assert client.command(b'PUTSCRIPT "s0" "discard;"\r\n')[-1].startswith(b"OK")  # replacing needs no room


def test_commands_before_login_and_garbage(client):
    client.response()
    assert client.command(b"LISTSCRIPTS\r\n")[-1].startswith(b"NO")
    assert client.command(b'PUTSCRIPT "unterminated\r\n')[-1].startswith(b"NO")
    assert client.command(b"FROB\r\n")[-1].startswith(b"NO")
    client.send(b"NOOP " + b"x" * (parser.MAX_LINE + 10) + b"\r\n")
    assert client.response()[-1].startswith(b"BYE")


def test_app_password_needs_the_managesieve_scope(sieved):
    from webadmin.models import AppPassword, Mailbox

    mailbox = Mailbox.objects.get(local_part="alice", domain__name="example.com")
    _, imap_only = AppPassword.issue(mailbox, "phone", ["imap"])
    _, sieve_too = AppPassword.issue(mailbox, "laptop", ["imap", "managesieve"])
    for password, answer in ((imap_only, b"NO"), (sieve_too, b"OK")):
        made = Client(sieved.port)
        try:
            made.response()
            made.starttls()
            assert made.login(password=password).startswith(answer)
        finally:
            made.close()


def test_parser_reads_quoted_literals_and_numbers():
    cmd = parser.parse(b'HAVESPACE "a\\"b" 12\r\n')
    assert cmd == parser.Command("HAVESPACE", ('a"b', 12))
    assert parser.parse(b'PUTSCRIPT "x" {3+}\r\nabc\r\n').args == ("x", "abc")
    for bad in (b'PUTSCRIPT "x\r\n', b"PUTSCRIPT {9+}\r\nab\r\n", b"  \r\n", b'NOOP "a\\x"\r\n'):
        with pytest.raises(parser.ParseError):
            parser.parse(bad)
