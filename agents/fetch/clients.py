"""POP3 and IMAP clients for collecting mail (stdlib poplib/imaplib; no Django, no storage).

Both offer the same small interface, :class:`Remote`: the UIDVALIDITY of what is
listed, the message ids (IMAP UIDs / POP3 UIDLs), one message's bytes, and a
deletion that the caller asks for only after the local copy is durable. Every
failure becomes a :class:`FetchError` with a sentence a user can act on.
"""

from __future__ import annotations

import imaplib
import poplib
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, cast

from mailcore import mutf7

TIMEOUT = 60.0  # seconds for connect and each read
MAX_MESSAGE = 100 * 1024 * 1024  # a bigger message is refused, not fetched into memory


class FetchError(Exception):
    """A poll failed. ``kind``: auth, connect, tls, protocol, local."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Account:
    """Where and how to log in (the clear password is only held here, never logged)."""

    protocol: str  # pop3 | imap
    host: str
    port: int
    tls: str  # none | starttls | tls
    verify: bool
    login: str
    password: str
    folder: str = "INBOX"
    cafile: str | None = None  # extra CA to trust (tests; a private CA)

    def __repr__(self) -> str:  # never show the password in a traceback or log
        return f"Account({self.protocol}://{self.login}@{self.host}:{self.port} tls={self.tls})"


class Remote(Protocol):
    uidvalidity: str

    def list_ids(self) -> list[str]: ...
    def retrieve(self, ident: str) -> bytes: ...
    def delete(self, idents: list[str]) -> None: ...
    def close(self) -> None: ...


def tls_context(account: Account) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=account.cafile)
    if not account.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _text(exc: BaseException) -> str:
    value = exc.args[0] if exc.args else exc
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:300]


@contextmanager
def _errors(account: Account, stage: str) -> Iterator[None]:
    """Translate library errors into FetchError with a readable sentence."""
    where = f"{account.host}:{account.port}"
    try:
        yield
    except FetchError:
        raise
    except ssl.SSLCertVerificationError as exc:
        raise FetchError("tls", f"TLS failure with {where}: the certificate is not trusted ({exc.verify_message}); "
                         "if it is a self-signed server you trust, turn off 'verify certificate'") from exc
    except ssl.SSLError as exc:
        raise FetchError("tls", f"TLS failure with {where}: {_text(exc)}") from exc
    except TimeoutError as exc:
        raise FetchError("connect", f"{where} did not answer in time ({stage})") from exc
    except socket.gaierror as exc:
        raise FetchError("connect", f"cannot resolve {account.host}: {_text(exc)}") from exc
    except (ConnectionError, OSError) as exc:
        raise FetchError("connect", f"cannot reach {where}: {exc.strerror or _text(exc)}") from exc
    except (poplib.error_proto, imaplib.IMAP4.error, EOFError, ValueError, IndexError) as exc:
        kind = "auth" if stage == "login" else "protocol"
        prefix = f"login as {account.login} refused by {where}" if kind == "auth" else f"{where} failed at {stage}"
        raise FetchError(kind, f"{prefix}: {_text(exc)}") from exc


class Pop3Remote:
    """A POP3 maildrop; ids are UIDLs (RFC 1939). Deletions take effect at QUIT."""

    uidvalidity = "pop3"

    def __init__(self, account: Account) -> None:
        self.account = account
        self.numbers: dict[str, int] = {}
        with _errors(account, "connect"):
            if account.tls == "tls":
                self.conn: poplib.POP3 = poplib.POP3_SSL(account.host, account.port, timeout=TIMEOUT,
                                                         context=tls_context(account))
            else:
                self.conn = poplib.POP3(account.host, account.port, timeout=TIMEOUT)
                if account.tls == "starttls":
                    self.conn.stls(context=tls_context(account))
        try:
            with _errors(account, "login"):
                self.conn.user(account.login)
                self.conn.pass_(account.password)
        except FetchError:
            self._drop()
            raise

    def list_ids(self) -> list[str]:
        with _errors(self.account, "UIDL"):
            _, lines, _ = self.conn.uidl()
        ids = []
        for line in lines:
            parts = line.decode("ascii", "replace").split()
            if len(parts) == 2 and parts[0].isdigit() and 0 < len(parts[1]) <= 70:
                self.numbers[parts[1]] = int(parts[0])
                ids.append(parts[1])
        return ids

    def retrieve(self, ident: str) -> bytes:
        number = self.numbers[ident]
        with _errors(self.account, "LIST"):
            size = int(cast(bytes, self.conn.list(number)).split()[2])
        if size > MAX_MESSAGE:
            raise FetchError("protocol", f"message {ident} is {size} bytes, over the {MAX_MESSAGE} byte limit")
        with _errors(self.account, "RETR"):
            _, lines, _ = self.conn.retr(number)
        return b"\r\n".join(lines) + b"\r\n"

    def delete(self, idents: list[str]) -> None:
        with _errors(self.account, "DELE"):
            for ident in idents:
                if ident in self.numbers:
                    self.conn.dele(self.numbers[ident])

    def close(self) -> None:
        """QUIT: commits deletions (a dropped connection commits none, so a crash never loses mail)."""
        with _errors(self.account, "QUIT"):
            self.conn.quit()

    def _drop(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapRemote:
    """One IMAP folder; ids are UIDs, named together with the folder's UIDVALIDITY."""

    def __init__(self, account: Account) -> None:
        self.account = account
        with _errors(account, "connect"):
            if account.tls == "tls":
                self.conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(account.host, account.port, timeout=TIMEOUT,
                                                             ssl_context=tls_context(account))
            else:
                self.conn = imaplib.IMAP4(account.host, account.port, timeout=TIMEOUT)
                if account.tls == "starttls":
                    self.conn.starttls(ssl_context=tls_context(account))
        try:
            with _errors(account, "login"):
                self.conn.login(account.login, account.password)
            with _errors(account, "SELECT"):
                folder = mutf7.encode(account.folder)  # IMAP folder names are modified UTF-7 on the wire
                status, data = self.conn.select(_quote(folder), readonly=False)
                if status != "OK":
                    raise FetchError("protocol", f"folder {account.folder!r} cannot be selected: {data!r:.200}")
                codes = self.conn.response("UIDVALIDITY")[1]  # imaplib files the [UIDVALIDITY n] response code
                found = re.match(rb"(\d+)", codes[-1] if codes and codes[-1] else b"")
                self.uidvalidity = (found.group(1) if found else b"0").decode()
        except FetchError:
            self._drop()
            raise

    def list_ids(self) -> list[str]:
        with _errors(self.account, "UID SEARCH"):
            status, data = self.conn.uid("SEARCH", "ALL")
            if status != "OK":
                raise FetchError("protocol", f"UID SEARCH refused: {_text(Exception(*data))}")
        return [x for x in b" ".join(d for d in data if d).decode("ascii", "replace").split() if x.isdigit()]

    def retrieve(self, ident: str) -> bytes:
        with _errors(self.account, "UID FETCH"):
            status, data = self.conn.uid("FETCH", ident, "(RFC822.SIZE BODY.PEEK[])")
            if status != "OK":
                raise FetchError("protocol", f"UID FETCH {ident} refused: {_text(Exception(*data))}")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                return bytes(item[1])
        raise FetchError("protocol", f"message UID {ident} is gone from {self.account.folder}")

    def delete(self, idents: list[str]) -> None:
        if not idents:
            return
        uidplus = "UIDPLUS" in self.conn.capabilities
        with _errors(self.account, "UID STORE"):
            for start in range(0, len(idents), 200):
                chunk = ",".join(idents[start : start + 200])
                self.conn.uid("STORE", chunk, "+FLAGS.SILENT", r"(\Deleted)")
                if uidplus:  # expunge exactly ours, not what the user marked \Deleted elsewhere
                    self.conn.uid("EXPUNGE", chunk)
            if not uidplus:
                self.conn.expunge()

    def close(self) -> None:
        with _errors(self.account, "LOGOUT"):
            try:
                self.conn.close()
            finally:
                self.conn.logout()

    def _drop(self) -> None:
        try:
            self.conn.shutdown()
        except OSError:
            pass


def connect(account: Account) -> Remote:
    """Log in and open the maildrop/folder; raises FetchError."""
    if account.protocol == "pop3":
        return Pop3Remote(account)
    if account.protocol == "imap":
        return ImapRemote(account)
    raise FetchError("local", f"unknown protocol {account.protocol!r}")
