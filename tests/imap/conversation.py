"""Several IMAP sessions driven step by step, for differential tests of what sessions tell each other.

``Client`` is one logged-in connection that sends one command and returns the whole response up
to its tagged line (literals in the response are read by their size). ``run`` plays a script of
``(client name, command)`` steps against one server and returns each step's response, normalised
by ``normalise`` so that our server's and Dovecot's answers compare: texts after status codes,
UIDVALIDITY and MODSEQ values, and the order of flags in a list are what may differ.
"""

from __future__ import annotations

import re
import socket

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
_TAGGED = re.compile(rb"^(t\d+) (OK|NO|BAD)( \[[^\]]*\])?")
_UNTAGGED_CODE = re.compile(rb"^\* (OK|NO|BAD|BYE) \[([^\]]*)\].*$")
_QUOTED_NAME = re.compile(rb'^(\* (?:STATUS|LIST|LSUB) (?:\([^)]*\) "[^"]*" )?)"([A-Za-z0-9/._-]+)"')
_STATUS = re.compile(rb"^(\* STATUS \S+ )\(([^()]*)\)$")
_FETCH_ITEMS = re.compile(rb"^(\* \d+ FETCH )\((?:UID (\d+) ?|FLAGS (\([^()]*\)) ?|MODSEQ (\([^()]*\)) ?)+\)$")
_FETCH_PART = re.compile(rb"(UID \d+|FLAGS \([^()]*\)|MODSEQ \([^()]*\))")
_FLAG_LIST = re.compile(rb"(FLAGS|PERMANENTFLAGS|^\* LIST|^\* LSUB) \(([^()]*)\)")
_NUMBERS = [
    (re.compile(rb"UIDVALIDITY \d+"), b"UIDVALIDITY v"),
    (re.compile(rb"HIGHESTMODSEQ \d+"), b"HIGHESTMODSEQ m"),
    (re.compile(rb"MODSEQ \(\d+\)"), b"MODSEQ (m)"),
    (re.compile(rb"(APPENDUID|COPYUID) \d+"), rb"\1 v"),
]


class Client:
    """One logged-in IMAP connection; ``command`` returns the raw response of one command."""

    def __init__(self, host: str, port: int, user: str, password: str, timeout: float = 20) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""
        self.count = 0
        self.last = b""  # the last command sent (for a test's failure message)
        self._line()  # greeting
        login = self.command(f'LOGIN "{user}" "{password}"')
        if b" OK " not in login.splitlines()[-1] + b" ":
            raise RuntimeError(f"login failed: {login!r}")

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            last, unread = self.last[:80], self.buffer[-300:]
            raise ConnectionError(f"server closed the connection after {last!r}; unread {unread!r}")
        self.buffer += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line + b"\r\n"

    def _exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def send(self, text: str | bytes, literal: bytes | None = None) -> str:
        """Send one command (with a ``{n+}`` literal after it if given); returns its tag."""
        self.count += 1
        tag = f"t{self.count}"
        data = text.encode() if isinstance(text, str) else text
        line = tag.encode() + b" " + data
        if literal is not None:
            line += b" {%d+}\r\n" % len(literal) + literal
        self.sock.sendall(line + b"\r\n")
        self.last = line
        return tag

    def read(self, tag: str) -> bytes:
        """Everything up to and including the tagged response to ``tag``."""
        out = []
        while True:
            line = self._line()
            out.append(line)
            while (m := _LITERAL.search(line)) is not None:
                out.append(self._exact(int(m.group(1))))
                line = self._line()
                out.append(line)
            if line.startswith(tag.encode() + b" "):
                return b"".join(out)

    def command(self, text: str | bytes, literal: bytes | None = None) -> bytes:
        return self.read(self.send(text, literal))

    def close(self) -> None:
        try:
            self.sock.sendall(b"z LOGOUT\r\n")
        except OSError:
            pass
        self.sock.close()


def normalise(response: bytes, ignore: tuple[bytes, ...] = ()) -> list[bytes]:
    """The responses of one command as comparable lines: untagged sorted, the tagged status last.

    Texts after status codes are dropped; UIDVALIDITY and MODSEQ values, the order of flags, of
    LIST attributes and of STATUS items, and a mailbox name quoted or not are normalised; lines
    starting with one of ``ignore`` (and capability lines) are left out.
    """
    untagged: list[bytes] = []
    tagged = b""
    for line in response.split(b"\r\n"):
        if not line or line.startswith((b"* CAPABILITY", b"* OK [CAPABILITY", *ignore)):
            continue
        m = _TAGGED.match(line)
        if m:
            tagged = m.group(2) + (m.group(3) or b"")
            continue
        m = _UNTAGGED_CODE.match(line)
        if m:
            line = b"* %s [%s]" % (m.group(1), m.group(2))
        for pattern, replacement in _NUMBERS:
            line = pattern.sub(replacement, line)
        line = _QUOTED_NAME.sub(rb"\1\2", line)  # a mailbox name as a quoted string or an atom
        line = _FLAG_LIST.sub(lambda f: f.group(1) + b" (" + b" ".join(sorted(f.group(2).split())) + b")", line)
        if _FETCH_ITEMS.match(line):  # UID, FLAGS and MODSEQ in any order (RFC 3501 §7.4.2)
            head = line[: line.index(b"(")]
            line = head + b"(" + b" ".join(sorted(_FETCH_PART.findall(line), key=lambda p: p.split()[0])) + b")"
        m = _STATUS.match(line)
        if m:  # STATUS items come in any order (RFC 3501 §7.2.4)
            words = m.group(2).split()
            pairs = sorted(b" ".join(words[i : i + 2]) for i in range(0, len(words), 2))
            line = m.group(1) + b"(" + b" ".join(pairs) + b")"
        untagged.append(line)
    for pattern, replacement in _NUMBERS:
        tagged = pattern.sub(replacement, tagged)
    return [*sorted(untagged), tagged]


Step = tuple[str, str] | tuple[str, str, bytes]


_REMEMBERED = re.compile(rb"\[(UIDVALIDITY|HIGHESTMODSEQ) (\d+)\]")


def run(host: str, port: int, login: tuple[str, str], names: list[str], steps: list[Step],
        ignore: tuple[bytes, ...] = ()) -> list[list[bytes]]:
    """Play ``steps`` (client name, command[, APPEND literal]) with one client per name; normalised answers.

    A command may name ``{uidvalidity}`` and ``{highestmodseq}`` (the last this server told) and
    ``{saved}`` (the HIGHESTMODSEQ when the step ``("save", "")`` ran), as they differ between servers.
    """
    clients = {name: Client(host, port, *login) for name in names}
    values: dict[str, str] = {}
    try:
        out = []
        for step in steps:
            if step[0] == "save":
                values["saved"] = values.get("highestmodseq", "0")
                continue
            client = clients[step[0]]
            literal = step[2] if len(step) == 3 else None  # type: ignore[misc]
            response = client.command(step[1].format(**values), literal)
            values.update((k.decode().lower(), v.decode()) for k, v in _REMEMBERED.findall(response))
            out.append(normalise(response, ignore))
        return out
    finally:
        for client in clients.values():
            client.close()
