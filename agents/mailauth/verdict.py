"""At local delivery: does this message go into the recipient's Junk folder?

Reads the verdict headers the MX door wrote (forged copies were stripped there):
``X-Spam-Score`` against the recipient domain's junk score, and our own
``Authentication-Results`` for a DMARC failure under a sender's quarantine/reject
policy when the domain files such mail into Junk.
"""

from __future__ import annotations

import re

from django.conf import settings

from . import message, policy


def _our_results(fields: list[tuple[str, str]]) -> str:
    ours = settings.MAILAPP_HOSTNAME.lower()
    for name, value in fields:
        if name == "authentication-results" and value.split(";", 1)[0].strip().lower() == ours:
            return value.lower()
    return ""


def junk(raw: bytes, mailbox: str) -> bool:
    """True when the MX door's verdict says ``mailbox`` should get this message in Junk."""
    fields = message.headers(raw[:65536])
    rules = policy.for_address(mailbox)
    score_text = message.first(fields, "x-spam-score")
    if score_text:
        try:
            if float(score_text.split()[0]) >= rules.spam_junk_score:
                return True
        except (ValueError, IndexError):
            pass
    results = _our_results(fields)
    if results and rules.dmarc_action in ("junk", "reject"):
        match = re.search(r"dmarc=fail\b.*?policy\.dmarc=(\w+)", results)
        if match and match.group(1) in ("quarantine", "reject"):
            return True
    return False
