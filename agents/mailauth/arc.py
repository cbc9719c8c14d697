"""ARC (RFC 8617) with dkimpy: verifying the chain on the MX door, sealing forwarded mail.

A forward passes the message on with its original From, so DKIM may break (our
Delivered-To, a footer elsewhere) and SPF checks us, not the author. An ARC set
(ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal) signed with the
forwarding domain's DKIM key tells the next hop what we saw when the mail reached us.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import dkim as dkimpy

from .dkim import dnsfunc
from .keys import signing_keys

log = logging.getLogger(__name__)

# Headers the ARC-Message-Signature covers (From is required; ARC headers are added by dkimpy).
SEALED_HEADERS = [b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"reply-to", b"in-reply-to",
                  b"references", b"mime-version", b"content-type", b"content-transfer-encoding", b"dkim-signature"]
MAX_ARC_SETS = 50  # RFC 8617 5.2: more instances than this is a failed chain


@dataclass(frozen=True)
class ArcResult:
    result: str  # pass, fail, none
    reason: str = ""


def _eol(raw: bytes) -> bytes:
    first = raw.find(b"\n")
    return b"\r\n" if first > 0 and raw[first - 1 : first] == b"\r" else b"\n"


def _head(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]


def verify(raw: bytes) -> ArcResult:
    """The ARC chain's validation status: none (no ARC sets), pass, or fail (with the reason)."""
    if not re.search(rb"^arc-seal:", _head(raw), re.I | re.M):
        return ArcResult("none")
    try:
        status, _results, reason = dkimpy.arc_verify(raw, logger=log, dnsfunc=dnsfunc, timeout=5)
    except Exception as exc:  # dkimpy on hostile input: a broken chain, never a traceback
        return ArcResult("fail", exc.__class__.__name__)
    value = status.decode("ascii", "replace").lower() if isinstance(status, bytes) else str(status).lower()
    if value not in ("pass", "fail", "none"):
        value = "fail"
    return ArcResult(value, str(reason or "")[:200])


def seal(raw: bytes, domain: str, authserv_id: str) -> bytes:
    """``raw`` with an ARC set by ``domain``'s RSA DKIM key on top; unchanged if it has no key.

    The seal carries our Authentication-Results (authserv-id ``authserv_id``) as the
    ARC-Authentication-Results; a message without one (mail queued here, not received on
    the MX door) gets one now with the ARC result we see. Never raises: a problem leaves
    the forward unsealed, not unsent.
    """
    try:
        key = next((k for k in signing_keys(domain) if k.algorithm == "rsa"), None)
        if key is None:
            return raw
        eol = _eol(raw)
        ours = re.compile(rb"^authentication-results:[ \t]*" + re.escape(authserv_id.encode()) + rb"\s*;",
                          re.I | re.M)
        if not ours.search(_head(raw)):
            result = verify(raw)
            raw = f"Authentication-Results: {authserv_id}; arc={result.result}".encode() + eol + raw
        headers = [h for h in SEALED_HEADERS if re.search(rb"^" + h + rb":", _head(raw), re.I | re.M)]
        fields = dkimpy.arc_sign(raw, key.selector.encode(), key.domain.encode(), key.private,
                                 authserv_id.encode(), include_headers=headers or [b"from"], linesep=eol)
        return b"".join(fields) + raw
    except Exception:
        log.exception("ARC sealing for %s failed; forwarding unsealed", domain)
        return raw
