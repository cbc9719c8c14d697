"""Reply texts, Postfix-like, with enhanced status codes (RFC 2034, RFC 3463).

aiosmtpd's stock replies ("250 OK", "503 Error: need MAIL command") carry no
enhanced status code; once ENHANCEDSTATUSCODES is advertised every reply except
the greeting and the EHLO lines must have one. :func:`enhance` rewrites them.
Pure: no I/O, no Django.
"""

from __future__ import annotations

import re

from mailcore.quota import Shortfall

OK = "250 2.0.0 Ok"
SENDER_OK = "250 2.1.0 Ok"
RECIPIENT_OK = "250 2.1.5 Ok"
VRFY = "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery"
EXPN = "502 5.5.1 EXPN command not supported"
TOO_MANY_RECIPIENTS = "452 4.5.3 Error: too many recipients"
MESSAGE_TOO_BIG = "552 5.3.4 Error: message file too big"
SIZE_TOO_BIG = "552 5.3.4 Message size exceeds fixed limit"
BARE_LF = "550 5.5.2 Error: bare <LF> received"
BARE_CR = "550 5.5.2 Error: bare <CR> received"
TOO_MANY_HOPS = "554 5.4.6 Error: too many hops"
QUEUE_ERROR = "451 4.3.0 Error: queue file write error"
INTERNAL_ERROR = "451 4.3.0 Error: internal error, try again later"
AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_FAILED = "535 5.7.8 Error: authentication failed: authentication failure"
AUTH_TEMPFAIL = "454 4.7.0 Temporary authentication failure: authentication service unavailable"
AUTH_LOCKED = "454 4.7.0 Error: too many failed authentication attempts, try again later"
AUTH_REQUIRED = "530 5.7.0 Authentication required"
NEED_SMTPUTF8 = "553 5.6.7 Must declare SMTPUTF8 to send unicode address"
TLS_ALREADY_ACTIVE = "503 5.5.1 Error: TLS already active"
COMMAND_LINE_TOO_LONG = "500 5.5.2 Error: command line too long"


def queued(queue_id: str) -> str:
    return f"250 2.0.0 Ok: queued as {queue_id}"


def user_unknown(address: str) -> str:
    return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


def srs_invalid(address: str) -> str:
    """RCPT to an SRS address of ours whose signature is wrong or whose days are over."""
    return f"550 5.1.1 <{address}>: Recipient address rejected: invalid or expired SRS address"


def relay_denied(address: str) -> str:
    return f"554 5.7.1 <{address}>: Relay access denied"


def mailbox_full(address: str, short: Shortfall) -> str:
    """Postfix's "Mailbox full" when nothing is left; with a SIZE= that does not fit, the sizes."""
    if short.left == 0 or short.incoming <= 0:
        return f"452 4.2.2 <{address}>: Recipient address rejected: Mailbox full"
    return f"452 4.2.2 <{address}>: Recipient address rejected: {short.reason}"


def recipient_not_fqdn(address: str) -> str:
    return f"504 5.5.2 <{address}>: Recipient address rejected: need fully-qualified address"


def sender_not_fqdn(address: str) -> str:
    return f"504 5.5.2 <{address}>: Sender address rejected: need fully-qualified address"


def sender_not_logged_in(address: str) -> str:
    return f"553 5.7.1 <{address}>: Sender address rejected: not logged in"


def sender_not_owned(address: str, user: str) -> str:
    return f"553 5.7.1 <{address}>: Sender address rejected: not owned by user {user}"


def address_too_long(role: str, why: str) -> str:
    """Postfix's wording for an address it cannot take ("501 5.1.3 Bad sender address syntax")."""
    return f"501 5.1.3 Bad {role.lower()} address syntax: {why}"


def too_many_sessions(hostname: str, ip: str) -> str:
    return f"421 4.7.0 {hostname} Error: too many connections from {ip}"


_ENHANCED = re.compile(r"^[2-5]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b")

# aiosmtpd's stock texts (1.4.6), by exact text or prefix, and what we say instead.
_EXACT = {
    "250 OK": OK,
    "221 Bye": "221 2.0.0 Bye",
    "220 Ready to start TLS": "220 2.0.0 Ready to start TLS",
    "454 TLS not available": "454 4.7.0 TLS not available due to local problem",
    "500 Error: bad syntax": "500 5.5.2 Error: bad syntax",
    "500 Command line too long": COMMAND_LINE_TOO_LONG,
    "500 Line too long (see RFC5321 4.5.3.1.6)": "500 5.5.2 Error: line too long (RFC 5321 4.5.3.1.6)",
    "500 Error: strict ASCII mode": "500 5.5.2 Error: non-ASCII command without SMTPUTF8",
    "503 Error: send HELO first": "503 5.5.1 Error: send HELO/EHLO first",
    "503 Error: send EHLO first": "503 5.5.1 Error: send EHLO first",
    "503 Error: need MAIL command": "503 5.5.1 Error: need MAIL command",
    "503 Error: need RCPT command": "503 5.5.1 Error: need RCPT command",
    "503 Error: nested MAIL command": "503 5.5.1 Error: nested MAIL command",
    "503 Already authenticated": "503 5.5.1 Error: already authenticated",
    "500 Error: command 'AUTH' not recognized": "503 5.5.1 Error: send EHLO first",
    "501 Not enough value": "501 5.5.4 Syntax: AUTH mechanism",
    "501 Too many values": "501 5.5.4 Syntax: AUTH mechanism [initial-response]",
    "552 Error: Too much mail data": MESSAGE_TOO_BIG,
    "552 Error: message size exceeds fixed maximum message size": SIZE_TOO_BIG,
    "502 EXPN not implemented": EXPN,
    "530 Must issue a STARTTLS command first": "530 5.7.0 Must issue a STARTTLS command first",
    "554 Command refused due to lack of security": "554 5.7.0 Command refused due to lack of security",
    "553 5.1.3 Error: malformed address": "501 5.1.3 Bad address syntax",
}
_PREFIX = (
    ("500 Error: command ", "502 5.5.2 Error: command not recognized"),
    ("555 MAIL FROM parameters", "555 5.5.4 Unsupported option in MAIL FROM"),
    ("555 RCPT TO parameters", "555 5.5.4 Unsupported option in RCPT TO"),
    ("502 Could not VRFY", "501 5.1.3 Bad address syntax"),
)


def enhance(reply: str) -> str:
    """The reply with an enhanced status code (stock aiosmtpd texts reworded).

    Continuation lines ("250-…", the EHLO keywords) and the 220 greeting pass as
    they are: RFC 2034 exempts them.
    """
    if reply in _EXACT:
        return _EXACT[reply]
    if len(reply) < 4 or reply[3] == "-" or _ENHANCED.match(reply):
        return reply
    for prefix, replacement in _PREFIX:
        if reply.startswith(prefix):
            return replacement
    code = reply[:3]
    if reply.startswith("501 "):
        return "501 5.5.4 " + reply[4:]
    if reply.startswith("250 Syntax:") or reply.startswith("250 Supported"):
        return "250 2.0.0 " + reply[4:]
    if code[0] in "45" and code.isdigit():
        return f"{code} {code[0]}.0.0 {reply[4:]}"
    return reply


# Replies whose text never varies (ours and aiosmtpd's stock ones): MailSMTP.push keeps them
# enhanced and encoded instead of redoing both for every reply.
FIXED = frozenset(
    {value for name, value in list(globals().items()) if name.isupper() and isinstance(value, str)}
    | set(_EXACT) | {"354 End data with <CR><LF>.<CR><LF>", "221 Bye", "250 OK", "250 HELP", "250 Syntax: RSET"}
)


def shutting_down(hostname: str) -> str:
    """New transactions while the agent drains for a stop (RFC 5321 §3.8: 421, try later)."""
    return f"421 4.3.2 {hostname} Service shutting down, try again later"


# Which rule a reply line stands for, for the refusal records (agents.queue.refusals).
_RULES = (
    ("Recipient address rejected: User unknown", "unknown-recipient"),
    ("Relay access denied", "relay-denied"),
    ("Mailbox full", "quota"),
    ("need fully-qualified address", "address-syntax"),
    ("address syntax", "address-syntax"),
    ("Must declare SMTPUTF8", "address-syntax"),
    ("not logged in", "auth-required"),
    ("Authentication required", "auth-required"),
    ("not owned by user", "sender-rights"),
    ("too many recipients", "recipient-limit"),
    ("Rate limit exceeded", "rate-limit"),
    ("Greylisted", "greylisting"),
    ("too many hops", "hop-limit"),
    ("bare <", "line-ending"),
    ("message file too big", "message-size"),
    ("Message size exceeds", "message-size"),
    ("DMARC", "dmarc"),
    ("virus found", "antivirus"),
    ("rejected as spam", "spam"),
    ("account suspended", "account-guard"),
    ("Service shutting down", "shutting-down"),
)


def rule_of(reply: str) -> str:
    """The name of the rule behind a refusal's reply line ("other" if it is none of ours)."""
    lowered = reply.lower()
    for text, rule in _RULES:
        if text.lower() in lowered:
            return rule
    return "other"
