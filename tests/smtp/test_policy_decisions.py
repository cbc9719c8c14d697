"""The pure policy, rule by rule (the quota rule needs a store, so it is proved here)."""

from __future__ import annotations

from agents.smtp import policy
from mailcore.quota import shortfall

MX = policy.Listener("smtp", 25)
SUBMISSION = policy.Listener("submission", 587, starttls_required=True, auth_required=True)


class Directory:
    def __init__(self, usage: int = 0, quota: int = 1000) -> None:
        self.usage, self.quota = usage, quota

    def recipient_kind(self, address):
        local, _, domain = address.partition("@")
        if domain != "example.com":
            return "remote"
        return {"alice": "mailbox", "team": "alias"}.get(local, "unknown")

    def is_local_domain(self, domain):
        return domain == "example.com"

    def may_send_as(self, user, sender):
        return sender == user

    def over_quota(self, address, incoming):
        return shortfall(self.usage, self.quota, incoming)


def rcpt(address, facts=None, directory=None, so_far=0):
    return policy.check_recipient(facts or policy.SessionFacts(MX, None), address, so_far, 100,
                                  directory or Directory())


def test_mailbox_and_alias_are_accepted():
    assert rcpt("alice@example.com") is None and rcpt("team@example.com") is None


def test_over_quota_mailbox_is_a_temporary_failure():
    assert rcpt("alice@example.com", directory=Directory(usage=1000)) == (
        "452 4.2.2 <alice@example.com>: Recipient address rejected: Mailbox full"
    )


def test_declared_size_that_would_pass_the_quota():
    facts = policy.SessionFacts(MX, None, declared_size=600)
    assert rcpt("alice@example.com", facts, Directory(usage=500)).startswith("452 4.2.2")


def test_authenticated_client_may_relay():
    assert rcpt("dave@remote.test", policy.SessionFacts(SUBMISSION, "alice@example.com")) is None


def test_recipient_limit_comes_first():
    assert rcpt("alice@example.com", so_far=100) == "452 4.5.3 Error: too many recipients"


def test_null_sender_is_always_allowed():
    assert policy.check_sender(policy.SessionFacts(SUBMISSION, "alice@example.com"), "", Directory()) is None


def test_unauthenticated_remote_sender_on_submission_needs_auth():
    assert policy.check_sender(policy.SessionFacts(SUBMISSION, None), "x@remote.test", Directory()) == (
        "530 5.7.0 Authentication required"
    )
