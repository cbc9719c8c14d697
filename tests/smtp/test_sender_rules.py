"""MAIL FROM: who may claim which sender, and where."""

from __future__ import annotations


def test_mx_port_accepts_an_unauthenticated_remote_sender(agent):
    client = agent.raw()
    client.cmd("EHLO client.test")
    assert client.cmd("MAIL FROM:<carol@remote.test>") == "250 2.1.0 Ok"


def test_sender_without_domain_is_refused(agent):
    client = agent.raw()
    client.cmd("EHLO client.test")
    assert client.cmd("MAIL FROM:<carol>").startswith("504 5.5.2 <carol>: Sender address rejected")


def test_mail_before_helo(agent):
    assert agent.raw().cmd("MAIL FROM:<carol@remote.test>") == "503 5.5.1 Error: send HELO/EHLO first"


def test_nested_mail(agent):
    client = agent.raw()
    client.cmd("EHLO client.test")
    client.cmd("MAIL FROM:<carol@remote.test>")
    assert client.cmd("MAIL FROM:<carol@remote.test>") == "503 5.5.1 Error: nested MAIL command"


def test_policy_refuses_a_local_sender_without_auth_on_a_submission_port():
    from agents.smtp import policy

    class Local:
        def is_local_domain(self, domain):
            return domain == "example.com"

    facts = policy.SessionFacts(policy.Listener("submission", 587, auth_required=True), auth_user=None)
    reply = policy.check_sender(facts, "alice@example.com", Local())  # type: ignore[arg-type]
    assert reply == "553 5.7.1 <alice@example.com>: Sender address rejected: not logged in"
