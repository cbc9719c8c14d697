"""RFC 5322 address lists as IMAP ENVELOPE wants them: ``[name, adl, mailbox, host]`` entries.

Written after Dovecot's ``message_address_parse`` (the reference our ENVELOPE is tested
against): names are kept as written (encoded words and 8-bit text undecoded, quotes
removed, words joined by one space), a source route becomes the adl (``"@a,@b"``), a group
is a start marker ``[None, None, name, None]`` and an end marker ``[None] * 4``, and a
missing mailbox or host is ``MISSING_MAILBOX`` / ``MISSING_DOMAIN`` (so nothing looks like
group syntax). A mailbox without a phrase takes its comment as name. Linear and bounded:
no input recurses or costs more than one pass over ``MAX_ADDRESS_TEXT`` characters.
"""

from __future__ import annotations

MAX_ADDRESS_TEXT = 65_536  # characters of an address header parsed at all
MAX_ADDRESSES = 4_096  # entries kept per header
MISSING_MAILBOX, MISSING_DOMAIN = "MISSING_MAILBOX", "MISSING_DOMAIN"
_SPECIALS = '()<>@,;:\\".[]'

Token = tuple[str, str]  # (kind, text): kind is "atom", "quoted", "literal", "comment" or the special itself


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pos, size = 0, len(text)
    while pos < size:
        char = text[pos]
        if char in " \t\r\n":
            pos += 1
        elif char == "(":
            depth, start = 1, pos + 1
            pos += 1
            while pos < size and depth:
                if text[pos] == "\\":
                    pos += 1
                elif text[pos] == "(":
                    depth += 1
                elif text[pos] == ")":
                    depth -= 1
                pos += 1
            out.append(("comment", text[start : pos - 1].strip()))
        elif char == '"':
            buf = []
            pos += 1
            while pos < size and text[pos] != '"':
                if text[pos] == "\\" and pos + 1 < size:
                    pos += 1
                buf.append(text[pos])
                pos += 1
            pos += 1
            out.append(("quoted", "".join(buf)))
        elif char == "[":
            end = text.find("]", pos)
            end = size if end < 0 else end + 1
            out.append(("literal", text[pos:end]))
            pos = end
        elif char in _SPECIALS:
            out.append((char, char))
            pos += 1
        else:
            start = pos
            while pos < size and text[pos] not in _SPECIALS and text[pos] not in " \t\r\n":
                pos += 1
            out.append(("atom", text[start:pos]))
    return out


def _phrase(words: list[Token]) -> str | None:
    """Display-name words joined by one space ("Joe Q. Public")."""
    out = ""
    for kind, text in words:
        if kind == "comment":
            continue
        if kind == ".":
            out += "."
        elif out:
            out += " " + text
        else:
            out = text
    return out or None


def _join(words: list[Token]) -> str:
    """Local part or domain: words and dots as written, without comments or spaces."""
    return "".join(text for kind, text in words if kind != "comment")


def address_list(text: str | None) -> list[list[str | None]] | None:
    """``[[name, adl, mailbox, host], ...]`` with group markers, or None if the header is missing or empty."""
    if text is None:
        return None
    tokens = _tokens(text[:MAX_ADDRESS_TEXT])
    out: list[list[str | None]] = []
    in_group = False
    i, size = 0, len(tokens)
    while i < size and len(out) < MAX_ADDRESSES:
        kind = tokens[i][0]
        if kind == ",":
            i += 1
            continue
        if kind == ";":
            if in_group:
                out.append([None, None, None, None])
                in_group = False
            i += 1
            continue
        words: list[Token] = []
        while i < size and tokens[i][0] not in (":", "<", "@", ",", ";", ">"):
            words.append(tokens[i])
            i += 1
        nxt = tokens[i][0] if i < size else ""
        if nxt == ":" and not in_group:
            out.append([None, None, _phrase(words) or "", None])
            in_group = True
            i += 1
            continue
        comment = next((t for k, t in reversed(words) if k == "comment" and t), None)
        if nxt == "<":
            i += 1
            adl: list[str] = []
            while i < size and tokens[i][0] in ("@", ","):  # obs-route: "@a,@b:"
                if tokens[i][0] == "@":
                    i += 1
                    domain: list[Token] = []
                    while i < size and tokens[i][0] not in (",", ":", ">", "@"):
                        domain.append(tokens[i])
                        i += 1
                    adl.append("@" + _join(domain))
                else:
                    i += 1
            if adl and i < size and tokens[i][0] == ":":
                i += 1
            local: list[Token] = []
            while i < size and tokens[i][0] not in ("@", ">", ",", ";"):
                local.append(tokens[i])
                i += 1
            host: list[Token] = []
            if i < size and tokens[i][0] == "@":
                i += 1
                while i < size and tokens[i][0] not in (">", ",", ";"):
                    host.append(tokens[i])
                    i += 1
            if i < size and tokens[i][0] == ">":
                i += 1
            trailing = []  # a comment after ">" names the mailbox only when there is no phrase
            while i < size and tokens[i][0] == "comment":
                trailing.append(tokens[i][1])
                i += 1
            name = _phrase(words) or next((t for t in trailing if t), None)
            out.append([name, ",".join(adl) or None, _join(local) or MISSING_MAILBOX,
                        _join(host) or MISSING_DOMAIN])
            continue
        local = words
        host = []
        if nxt == "@":
            i += 1
            while i < size and tokens[i][0] not in (",", ";", "<", ">", ":"):
                host.append(tokens[i])
                i += 1
            comment = next((t for k, t in reversed(host) if k == "comment" and t), comment)
        elif nxt in ("<", ">", ":"):
            i += 1  # stray special: skip it, as a lenient parser must
        mailbox = _join(local)
        if not mailbox and not host:
            continue
        out.append([comment, None, mailbox or MISSING_MAILBOX, _join(host) or MISSING_DOMAIN])
    if in_group:
        out.append([None, None, None, None])
    return out or None
