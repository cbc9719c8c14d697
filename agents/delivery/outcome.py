"""The result of one delivery attempt for one recipient."""

from __future__ import annotations

from dataclasses import dataclass

DELIVERED, DEFERRED, BOUNCED, DISCARDED = "delivered", "deferred", "bounced", "discarded"


@dataclass(frozen=True)
class Outcome:
    state: str  # delivered | deferred | bounced | discarded (QueueRecipient states)
    status: str  # RFC 3463 enhanced status code, e.g. "2.0.0", "4.4.1", "5.1.1"
    detail: str  # a sentence for the log, the trace and the DSN
    event: str = ""  # the QueueEvent name; defaults to ``state`` ("relayed" for remote, "forwarded")
    remote_host: str = ""
    remote_reply: str = ""

    @property
    def final(self) -> bool:
        return self.state != DEFERRED


def delivered(detail: str, event: str = "delivered", **kw: str) -> Outcome:
    return Outcome(DELIVERED, "2.0.0", detail, event, **kw)


def deferred(status: str, detail: str, **kw: str) -> Outcome:
    return Outcome(DEFERRED, status, detail, "deferred", **kw)


def bounced(status: str, detail: str, **kw: str) -> Outcome:
    return Outcome(BOUNCED, status, detail, "bounced", **kw)


def discarded(detail: str) -> Outcome:
    return Outcome(DISCARDED, "2.0.0", detail, "discarded")
