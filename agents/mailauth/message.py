"""Reading the few header facts the checks need from raw bytes (pure: no Django, never raises)."""

from __future__ import annotations

import email.utils
import re

HEADER_LIMIT = 256 * 1024  # only the first 256 KiB can hold headers we look at


def split(raw: bytes) -> tuple[bytes, bytes]:
    """(header block, body) of ``raw``; the body is b"" when there is no blank line."""
    head = raw[:HEADER_LIMIT]
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = head.find(sep)
        if at >= 0:
            return raw[:at + len(sep)], raw[at + len(sep):]
    return head, b""


def headers(raw: bytes) -> list[tuple[str, str]]:
    """(lower-case name, unfolded value) of each header field, in order."""
    block = split(raw)[0].decode("utf-8", "replace")
    fields: list[tuple[str, str]] = []
    for line in re.split(r"\r?\n", block):
        if not line:
            continue
        if line[0] in " \t" and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + " " + line.strip())
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append((name.strip().lower(), value.strip()))
    return fields


def first(fields: list[tuple[str, str]], name: str) -> str | None:
    return next((v for n, v in fields if n == name), None)


def header_from_domain(raw: bytes) -> str:
    """The domain of the single From address ("" when missing, empty or not one address)."""
    froms = [v for n, v in headers(raw) if n == "from"]
    if len(froms) != 1:
        return ""
    addresses = email.utils.getaddresses([froms[0]])
    if len(addresses) != 1:
        return ""
    _, address = addresses[0]
    domain = address.rpartition("@")[2].strip().rstrip(".").lower()
    return domain if "@" in address and re.fullmatch(r"[a-z0-9._-]{1,253}", domain) else ""
