"""The ``sendmail`` command line: options, recipients and the message, as local programs send them.

Pure (no Django): :func:`parse_args` reads a sendmail/Postfix-style argument list,
:func:`prepare` turns standard input into a queue-ready message. The management
command ``manage.py sendmail`` (and ``bin/sendmail``) glue them to the queue.

Options as Postfix's sendmail: ``-t -i -oi -f sender -r sender -F fullname -bm``;
``-o…`` options and the other sendmail flags (``-v -N -R -V -X -C -B -L -O -h -U -n -q…``)
are accepted and ignored; other modes than ``-bm`` are refused with EX_USAGE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import formataddr, formatdate, getaddresses, make_msgid

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOUSER = 67
EX_UNAVAILABLE = 69
EX_SOFTWARE = 70
EX_TEMPFAIL = 75

# sendmail flags that take an argument (attached or as the next word) and that we ignore
_IGNORED_WITH_ARG = set("BCLNORVXhdp")
_IGNORED_FLAGS = set("vUnqAGSmexI")  # -G -m -e… are old sendmail switches; harmless


class UsageError(Exception):
    """Bad command line (EX_USAGE)."""


class DataError(Exception):
    """Bad message or address (EX_DATAERR)."""


@dataclass
class Request:
    recipients: list[str] = field(default_factory=list)
    sender: str | None = None
    full_name: str | None = None
    extract: bool = False  # -t
    ignore_dots: bool = False  # -i / -oi


def parse_args(argv: list[str]) -> Request:
    """Parse sendmail arguments (without the program name). Raises :class:`UsageError`."""
    request = Request()
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--":
            request.recipients += words
            break
        if not word.startswith("-") or word == "-":
            request.recipients.append(word)
            continue
        flag, rest = word[1:2], word[2:]

        def value(flag: str = flag, rest: str = rest) -> str:
            if rest:
                return rest
            if not words:
                raise UsageError(f"option requires an argument -- {flag}")
            return words.pop(0)

        if flag == "t":
            request.extract = True
            if rest == "i":  # "-ti"
                request.ignore_dots = True
        elif flag == "i":
            request.ignore_dots = True
        elif flag in ("f", "r"):
            request.sender = value().strip()
            if request.sender.startswith("<") and request.sender.endswith(">"):
                request.sender = request.sender[1:-1]
        elif flag == "F":
            request.full_name = value()
        elif flag == "o":
            option = value()  # -oi, -oem, -odb, -o option=value …: Postfix ignores all but -oi
            if option == "i":
                request.ignore_dots = True
        elif flag == "b":
            mode = value()
            if mode not in ("m", "d"):
                raise UsageError(f"unsupported mode -b{mode}: only -bm (deliver mail) is available")
        elif flag in _IGNORED_WITH_ARG:
            value()
        elif flag in _IGNORED_FLAGS:
            pass
        else:
            raise UsageError(f"illegal option -- {flag}")
    request.recipients = split_recipients(request.recipients)
    return request


def split_recipients(words: list[str]) -> list[str]:
    """Command-line recipients may be separated by commas as well as by spaces."""
    out: list[str] = []
    for word in words:
        out += [part.strip() for part in word.split(",") if part.strip()]
    return out


_ADDRESS = re.compile(r"^[^\s<>()\[\],;:\\\"@]+(?:@[A-Za-z0-9.\-\[\]:]+)?$|^\"[^\"]*\"@[A-Za-z0-9.\-]+$")


def qualify(address: str, hostname: str) -> str:
    """``user`` becomes ``user@hostname`` (Postfix appends $myorigin); checks the syntax."""
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1]
    if not address or not _ADDRESS.match(address) or address.endswith("@"):
        raise DataError(f"bad address syntax: {address!r}")
    return address if "@" in address else f"{address}@{hostname}"


def read_message(data: bytes, ignore_dots: bool) -> bytes:
    """Standard input as a CRLF message; without -i a line holding only "." ends it."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out: list[bytes] = []
    for line in lines:
        line = line.rstrip(b"\r").replace(b"\r", b"")  # no bare CR reaches the queue
        if not ignore_dots and line == b".":
            break
        out.append(line)
    return b"\r\n".join(out) + b"\r\n" if out else b""


_FIELD = re.compile(rb"^[!-9;-~]+:")


def _split(message: bytes) -> tuple[list[bytes], bytes]:
    """Header fields (continuation lines joined to theirs) and the body.

    The header ends at the first empty line, or at the first line that is not a
    header field (then that line starts the body, as Postfix's cleanup does).
    """
    lines = message.split(b"\r\n")
    fields: list[bytes] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line == b"":
            i += 1
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        elif _FIELD.match(line):
            fields.append(line)
        else:
            break
        i += 1
    return fields, b"\r\n".join(lines[i:])


def _name(field_line: bytes) -> bytes:
    return field_line.split(b":", 1)[0].strip().lower()


@dataclass
class Prepared:
    message: bytes
    recipients: list[str]


def prepare(data: bytes, request: Request, *, sender: str, hostname: str, queue_id: str, user: str,
            uid: int) -> Prepared:
    """Build the queued message: -t recipients (Bcc removed), missing From/Date/Message-ID added,
    and a ``Received:`` line naming the local user. Raises :class:`DataError`."""
    message = read_message(data, request.ignore_dots)
    fields, body = _split(message)
    recipients = [qualify(r, hostname) for r in request.recipients]
    if request.extract:
        found = []
        for f in fields:
            if _name(f) in (b"to", b"cc", b"bcc"):
                value = f.split(b":", 1)[1].decode("utf-8", "replace").replace("\r\n", " ")
                found += [addr for _, addr in getaddresses([value]) if addr]
        recipients += [qualify(r, hostname) for r in found]
        fields = [f for f in fields if _name(f) not in (b"bcc", b"resent-bcc")]
    elif any(_name(f) == b"bcc" for f in fields):
        fields = [f for f in fields if _name(f) != b"bcc"]
    unique: dict[str, str] = {}
    for recipient in recipients:
        unique.setdefault(recipient.lower(), recipient)
    recipients = list(unique.values())
    if not recipients:
        raise DataError("no recipients found" if request.extract else "no recipients specified")
    names = {_name(f) for f in fields}
    added: list[bytes] = []
    if b"from" not in names:
        added.append(b"From: " + formataddr((request.full_name or "", sender or f"MAILER-DAEMON@{hostname}")).encode())
    if b"date" not in names:
        added.append(b"Date: " + formatdate(localtime=True).encode())
    if b"message-id" not in names:
        added.append(b"Message-ID: " + make_msgid(domain=hostname).encode())
    trace = f"Received: by {hostname} (mailappliance sendmail, from userid {uid})\r\n\tid {queue_id}; {formatdate()}"
    del user  # the user is in the envelope sender already; keep the trace to the uid, as Postfix does
    head = b"\r\n".join([trace.encode()] + fields + added)
    return Prepared(head + b"\r\n\r\n" + body, recipients)
