"""One submission policy: SMTP, webmail, sendmail, forwards and auto-replies meet the same rules
and are refused with the same reply (agents.queue.submission)."""

from __future__ import annotations

import io
import smtplib

import pytest

from agents.mailauth import ratelimit
from agents.models import QueueMessage, Refusal
from agents.queue import submission
from agents.smtp import replies
from tests.conftest import PASSWORD
from webadmin.models import MailPolicy
from webadmin.webmail import compose

from .conftest import message


def smtp_refusal(agent, sender: str, recipients: list[str]) -> str:
    """The reply the submission port gives to alice's attempt (the first refusal)."""
    with agent.smtp(agent.submission) as client:
        client.starttls(context=agent.client_context())
        client.login("alice@example.com", PASSWORD)
        try:
            refused = client.sendmail(sender, recipients, message(sender=sender))
        except smtplib.SMTPSenderRefused as exc:
            return f"{exc.smtp_code} {exc.smtp_error.decode()}"
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return f"{code} {text.decode()}"
    if refused:  # some recipients were accepted
        code, text = next(iter(refused.values()))
        return f"{code} {text.decode()}"
    return ""


def webmail_refusal(sender: str, recipients: list[str], body: str = "x") -> str:
    draft = compose.Draft(from_addr=sender, to=", ".join(recipients), subject="hello", body=body)
    with pytest.raises(compose.ComposeError) as caught:
        compose.send("alice@example.com", "Alice", draft, "192.0.2.44")
    return str(caught.value)


def sendmail_run(args: list[str], stdin: bytes, capsys) -> tuple[int, str]:
    from agents.management.commands.sendmail import Command

    code = Command().send(args, io.BytesIO(stdin))
    return code, capsys.readouterr().err


def test_sender_rights_are_one_rule_with_one_reply(agent):
    expected = "553 5.7.1 <bob@example.com>: Sender address rejected: not owned by user alice@example.com"
    assert smtp_refusal(agent, "bob@example.com", ["carol@remote.test"]) == expected
    assert expected in webmail_refusal("bob@example.com", ["carol@remote.test"])
    assert submission.sender_rights("alice@example.com", "bob@example.com", lambda u, s: False).reply == expected
    assert not QueueMessage.objects.exists()


def test_over_the_rate_limit_webmail_and_sendmail_give_the_smtp_reply(agent, settings, capsys):
    settings.MAILAPP_RATE_SENDER_PER_HOUR = 1
    with agent.smtp(agent.submission) as client:
        client.starttls(context=agent.client_context())
        client.login("alice@example.com", PASSWORD)
        client.sendmail("alice@example.com", ["carol@remote.test"], message(sender="alice@example.com"))
    assert smtp_refusal(agent, "alice@example.com", ["carol@remote.test"]) == ratelimit.OVER_LIMIT
    assert webmail_refusal("alice@example.com", ["carol@remote.test"]) == f"Not sent: {ratelimit.OVER_LIMIT}"

    assert sendmail_run(["carol@remote.test"], b"Subject: one\n\nbody\n", capsys)[0] == 0
    code, err = sendmail_run(["carol@remote.test"], b"Subject: two\n\nbody\n", capsys)
    assert code == 75 and ratelimit.OVER_LIMIT in err
    assert QueueMessage.objects.count() == 2  # one by SMTP, one by sendmail
    assert set(Refusal.objects.filter(rule="rate-limit").values_list("source", flat=True)) >= {"webmail", "sendmail"}


def test_a_domain_recipient_limit_applies_to_webmail_like_smtp(agent, example_com):
    MailPolicy.objects.create(domain=example_com, max_recipients_per_message=1)
    two = ["carol@remote.test", "dave@remote.test"]
    assert smtp_refusal(agent, "alice@example.com", two) == ratelimit.TOO_MANY_RECIPIENTS
    assert webmail_refusal("alice@example.com", two) == f"Not sent: {ratelimit.TOO_MANY_RECIPIENTS}"
    refused = Refusal.objects.get(source="webmail")
    assert (refused.command, refused.recipient, refused.rule) == ("RCPT", "dave@remote.test", "recipient-limit")


def test_the_message_size_limit_is_the_same_everywhere(db, example_com, settings, capsys):
    settings.MAILAPP_MAX_MESSAGE_SIZE = 2000
    too_big = webmail_refusal("alice@example.com", ["carol@remote.test"], "y" * 5000)
    assert too_big == f"Not sent: {replies.MESSAGE_TOO_BIG}"
    code, err = sendmail_run(["carol@remote.test"], b"Subject: x\n\n" + b"y" * 5000, capsys)
    assert code == 65 and replies.MESSAGE_TOO_BIG in err
    policy = submission.default_policy()
    decision = policy.system("forward", "alice@example.com", "carol@remote.test", ["x@remote.test"], 5000)
    assert decision is not None and decision.reply == replies.MESSAGE_TOO_BIG
    assert sorted(Refusal.objects.values_list("source", flat=True)) == ["forward", "sendmail", "webmail"]
