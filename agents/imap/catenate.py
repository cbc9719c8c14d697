"""CATENATE (RFC 4469): a message put together from literal text and IMAP URLs (RFC 5092).

A URL names a message (or a section or a range of one) in the user's own mailbox, by absolute
path: ``/INBOX;UIDVALIDITY=7/;UID=20/;SECTION=1.MIME/;PARTIAL=0.100``. Server-qualified
(``imap://...``) and relative URLs are refused as ``BADURL``, as is anything that does not
resolve (folder, UIDVALIDITY, UID, section). The result is bounded by ``MAX_CATENATED``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote

from agents.store import mimetree
from agents.store.errors import FolderNotFound, MessageGone

from .fetchitems import parse_section
from .interfaces import MailboxStore
from .lexer import ParseError
from .mime import section_bytes, tree

MAX_CATENATED = 64 * 1024 * 1024  # the default literal limit: a URL cannot make a message larger than APPEND could
_URL = re.compile(
    r"/(?P<mailbox>[^;/?#]+)(?:;UIDVALIDITY=(?P<uidvalidity>[1-9]\d{0,9}))?/;UID=(?P<uid>[1-9]\d{0,9})"
    r"(?:/;SECTION=(?P<section>[^/;]*))?(?:/;PARTIAL=(?P<start>\d{1,10})(?:\.(?P<length>[1-9]\d{0,9}))?)?\Z",
    re.I,
)


class BadUrl(ValueError):
    """A CATENATE URL that does not name something here (answer NO [BADURL url])."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class TooBig(ValueError):
    """The put-together message is larger than MAX_CATENATED."""


def resolve(url: bytes, box: MailboxStore) -> bytes:
    """The bytes a CATENATE URL names. Raises BadUrl."""
    text = url.decode("utf-8", "replace")
    shown = re.sub(r"[\x00-\x1f\]\x7f]", "?", text)[:200]  # for the response code, which ends at "]"
    m = _URL.match(text)
    if m is None:
        raise BadUrl(shown)
    name = unquote(m["mailbox"])
    if name.upper() == "INBOX" or name.upper().startswith("INBOX/"):
        name = "INBOX" + name[5:]
    try:
        folder = box.folder(name)
        if m["uidvalidity"] and int(m["uidvalidity"]) != folder.uidvalidity:
            raise BadUrl(shown)
        raw = folder.read(int(m["uid"]))
    except (FolderNotFound, MessageGone):
        raise BadUrl(shown) from None
    data = raw
    if m["section"] is not None:
        try:
            section = parse_section(unquote(m["section"]))
        except ParseError:
            raise BadUrl(shown) from None
        if section.parts and mimetree.find(tree(raw), section.parts) is None:
            raise BadUrl(shown)
        data = section_bytes(raw, section.parts, section.text, section.fields)
    if m["start"] is not None:
        start = int(m["start"])
        data = data[start : start + int(m["length"])] if m["length"] else data[start:]
    return data


def assemble(parts: Sequence[tuple[str, bytes]], box: MailboxStore) -> bytes:
    """The message CATENATE parts make. Raises BadUrl or TooBig."""
    out = bytearray()
    for kind, value in parts:
        out += value if kind == "TEXT" else resolve(value, box)
        if len(out) > MAX_CATENATED:
            raise TooBig()
    return bytes(out)
