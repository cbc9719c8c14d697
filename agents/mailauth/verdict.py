"""At local delivery: does this message go into the recipient's Junk folder?

Reads the verdict headers the MX door wrote (forged copies were stripped there):
``X-Spam-Score`` against the recipient domain's junk score, and our own
``Authentication-Results`` for a DMARC failure under a sender's quarantine/reject
policy when the domain files such mail into Junk. :func:`judge` adds the points of
the recipient's learned junk filter (``agents.mailauth.learn``) and the
``X-Spam-Learned`` header that shows them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from django.conf import settings

from agents.store import MailboxStore

from . import learn, message, policy

log = logging.getLogger(__name__)


def _our_results(fields: list[tuple[str, str]]) -> str:
    ours = settings.MAILAPP_HOSTNAME.lower()
    for name, value in fields:
        if name == "authentication-results" and value.split(";", 1)[0].strip().lower() == ours:
            return value.lower()
    return ""


def _door_score(fields: list[tuple[str, str]]) -> float:
    score_text = message.first(fields, "x-spam-score")
    try:
        return float(score_text.split()[0]) if score_text else 0.0
    except (ValueError, IndexError):
        return 0.0


def junk(raw: bytes, mailbox: str, learned: float = 0.0, fields: list[tuple[str, str]] | None = None) -> bool:
    """True when the MX door's verdict (plus ``learned`` points) says ``mailbox`` should get this message in Junk.

    ``fields``: the header fields of ``raw``, when the caller has them already."""
    if fields is None:
        fields = message.headers(raw[:65536])
    rules = policy.for_address(mailbox)
    if (message.first(fields, "x-spam-score") or learned) and _door_score(fields) + learned >= rules.spam_junk_score:
        return True
    results = _our_results(fields)
    if results and rules.dmarc_action in ("junk", "reject"):
        match = re.search(r"dmarc=fail\b.*?policy\.dmarc=(\w+)", results)
        if match and match.group(1) in ("quarantine", "reject"):
            return True
    return False


@dataclass
class Judgement:
    junk: bool
    headers: list[str] = field(default_factory=list)  # to put on top of the stored copy


def judge(raw: bytes, mailbox: str, box: MailboxStore) -> Judgement:
    """:func:`junk` with the points of ``mailbox``'s learned junk filter, and the header showing them."""
    if not settings.MAILAPP_JUNKFILTER:
        return Judgement(junk(raw, mailbox))
    fields = message.headers(raw[:65536])
    authenticated = bool(re.search(r"\bdmarc=pass\b", _our_results(fields)))
    try:
        opinion = learn.assessment(box, raw, authenticated)
    except Exception:  # the learned filter is a help; delivery must not fail for it
        log.exception("learned junk filter failed for %s", mailbox)
        opinion = None
    if opinion is None:
        return Judgement(junk(raw, mailbox, fields=fields))
    required = policy.for_address(mailbox).spam_junk_score
    return Judgement(junk(raw, mailbox, opinion.points, fields), [opinion.header(_door_score(fields), required)])
