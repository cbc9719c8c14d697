"""Mail address syntax (RFC 5321 §4.1.2) and domain normalisation (IDNA).

Pure functions with no Django imports, so the protocol agents can use them too.
Domains are stored in their ASCII (punycode) form and shown in Unicode.
"""

from __future__ import annotations

import functools
import re

import idna

# RFC 5321 Dot-string local part (atext with dots, no leading/trailing/double dot).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_STRING = re.compile(rf"^{_ATEXT}+(\.{_ATEXT}+)*$")
# RFC 6531 allows UTF-8 in the local part; accept non-ASCII letters as atext too.
_DOT_STRING_UTF8 = re.compile(r"^[^\s\"(),.:;<>@\[\\\]\x00-\x1f\x7f]+(\.[^\s\"(),.:;<>@\[\\\]\x00-\x1f\x7f]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
MAX_DOMAIN = 255
MAX_ADDRESS = 254  # RFC 5321 path limit minus the angle brackets


class AddressError(ValueError):
    """Raised with a sentence a user can act on."""


@functools.lru_cache(maxsize=4096)  # pure, and asked ~10 times per delivered message; errors are not cached
def normalize_domain(name: str) -> str:
    """Return the lowercase ASCII (IDNA 2008, UTS 46) form of a domain, or raise AddressError."""
    name = (name or "").strip().rstrip(".")
    if not name:
        raise AddressError("Enter a domain name.")
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise AddressError(f"“{name}” is not a valid domain name ({exc}).") from exc
    if len(ascii_name) > MAX_DOMAIN:
        raise AddressError("A domain name may be at most 255 characters long.")
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise AddressError(f"“{name}” is not a fully qualified domain name (it needs a dot).")
    for label in labels:
        if not _LABEL.match(label):
            raise AddressError(f"“{name}” is not a valid domain name.")
    if labels[-1].isdigit():
        raise AddressError(f"“{name}” looks like an IP address, not a domain name.")
    return ascii_name


def display_domain(ascii_name: str) -> str:
    """The Unicode form of a stored domain, for people."""
    try:
        return idna.decode(ascii_name)
    except idna.IDNAError:
        return ascii_name


def validate_local_part(local: str) -> str:
    """Return the local part unchanged if RFC 5321/6531 allows it, or raise AddressError."""
    if not local:
        raise AddressError("The part before the @ is empty.")
    if len(local.encode("utf-8")) > MAX_LOCAL_PART:
        raise AddressError("The part before the @ may be at most 64 octets long.")
    pattern = _DOT_STRING if local.isascii() else _DOT_STRING_UTF8
    if not pattern.match(local):
        raise AddressError(
            f"“{local}” is not a valid local part: use letters, digits and "
            "!#$%&'*+/=?^_`{|}~- separated by single dots."
        )
    return local


def directory_name_problem(part: str) -> str | None:
    """Why ``part`` (a lowercased local part or domain) cannot be one directory under the mail root, or None.

    The store's rule (``agents.store.mailbox_path``) and the mailbox's validation
    (``webadmin.models.Mailbox.clean``) both ask here, so a mailbox the
    configuration accepts always has a Maildir the store accepts.
    """
    if not part:
        return "it is empty"
    if part.startswith("."):
        return "it starts with a dot"
    for char in part:
        if char in "/\\":
            return f"it contains {char!r}"
        if ord(char) < 32 or ord(char) == 127:
            return "it contains control characters"
    if len(part.encode("utf-8")) > 255:
        return "it is longer than 255 bytes"
    return None


def validate_mailbox_local_part(local: str) -> str:
    """Like :func:`validate_local_part`, and also refuse what cannot name the mailbox's directory.

    RFC 5321 allows ``/`` in a local part, but a mailbox is a directory: no ``/``
    or ``\\``, no leading dot, no control characters. Aliases, which have no
    directory, keep the RFC's wider rule.
    """
    validate_local_part(local)
    problem = directory_name_problem(local.lower())
    if problem:
        raise AddressError(f"“{local}” cannot be a mailbox address: {problem} (a mailbox is a directory on disk).")
    return local


def split_address(address: str) -> tuple[str, str]:
    """Split and normalise ``local@domain`` → (local part, ASCII domain).

    Local parts keep their case (RFC 5321 says they may be case-sensitive) but
    lookups in this appliance are case-insensitive, so callers compare lowercased.
    """
    address = (address or "").strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1]
    if "@" not in address:
        raise AddressError(f"“{address}” is not a mail address (it has no @).")
    local, _, domain = address.rpartition("@")
    validate_local_part(local)
    ascii_domain = normalize_domain(domain)
    if len(local) + 1 + len(ascii_domain) > MAX_ADDRESS:
        raise AddressError("A mail address may be at most 254 characters long.")
    return local, ascii_domain


def normalize_address(address: str) -> str:
    """The canonical form used as a lookup key: lowercase local part, ASCII domain."""
    local, domain = split_address(address)
    return f"{local.lower()}@{domain}"
