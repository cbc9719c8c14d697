"""XCLIENT (Postfix's extension) from a trusted mail proxy: the client's address and its login.

nginx's mail proxy does not log in to an SMTP backend: after its ``auth_http`` server accepted the
client's AUTH it sends ``XCLIENT ADDR=… LOGIN=… NAME=…`` and then the client's own EHLO. The
backend believes it only from ``MAILAPP_TRUSTED_PROXIES`` (the agent answers 550 to anyone else),
so the trust is the proxy's address: the password was checked, through the login guard, by the
auth_http endpoint. Parsing is pure: a line's arguments in, attributes out.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

KNOWN = {"NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN", "DESTADDR", "DESTPORT"}
UNKNOWN_VALUES = {"[UNAVAILABLE]", "[TEMPUNAVAIL]"}
_XTEXT = re.compile(r"\+([0-9A-F]{2})")
MAX_VALUE = 320


class XclientError(ValueError):
    """The arguments are malformed: answered with 501, the session unchanged."""


@dataclass(frozen=True)
class Xclient:
    addr: str | None = None  # the client's IP address
    port: int = 0
    login: str | None = None  # the account the proxy authenticated
    name: str | None = None  # its reverse DNS name, as the proxy saw it


def _xtext(value: str) -> str:
    """RFC 3461 xtext: ``+XX`` is an octet in hexadecimal."""
    if "+" in value and _XTEXT.sub("", value).count("+"):
        raise XclientError("malformed xtext")
    return _XTEXT.sub(lambda m: chr(int(m.group(1), 16)), value)


def parse(arg: str) -> Xclient:
    """``NAME=mx.example ADDR=203.0.113.9 LOGIN=alice@example.com`` → :class:`Xclient`."""
    if not arg.strip():
        raise XclientError("XCLIENT needs attributes")
    values: dict[str, str | None] = {}
    for part in arg.split():
        name, sep, raw = part.partition("=")
        name = name.upper()
        if not sep or name not in KNOWN:
            raise XclientError(f"bad XCLIENT attribute {part[:40]!r}")
        value = _xtext(raw)
        if len(value) > MAX_VALUE or any(ord(ch) < 33 or ord(ch) == 127 for ch in value):
            raise XclientError(f"bad XCLIENT value for {name}")
        values[name] = None if value.upper() in UNKNOWN_VALUES or not value else value
    addr = values.get("ADDR")
    if addr is not None:
        text = addr[5:] if addr.upper().startswith("IPV6:") else addr
        try:
            addr = str(ipaddress.ip_address(text))
        except ValueError:
            raise XclientError("XCLIENT ADDR is not an IP address") from None
    port_text = values.get("PORT") or "0"
    if not port_text.isdigit() or int(port_text) > 65535:
        raise XclientError("XCLIENT PORT is not a port")
    login = values.get("LOGIN")
    return Xclient(addr, int(port_text), login.strip().lower() if login else None, values.get("NAME"))
