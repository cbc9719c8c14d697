"""A successful AUTH logs no "login_data is deprecated" warning: the handler's AUTH hook uses
aiosmtpd's non-deprecated session API (``authenticated``, ``auth_data``)."""

from __future__ import annotations

import logging
import smtplib

import pytest

from tests.conftest import PASSWORD

from .conftest import message


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_succeeds_without_a_deprecation_line(agent, caplog, mechanism):
    caplog.set_level(logging.DEBUG)
    with agent.smtps() as client:
        client.ehlo("client.test")
        client.user, client.password = "alice@example.com", PASSWORD
        code, _reply = client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
        assert code == 235
        assert client.sendmail("alice@example.com", ["bob@example.com"], message(sender="alice@example.com")) == {}
    noise = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert noise == []


def test_a_wrong_password_is_still_refused_and_a_second_auth_too(agent):
    with agent.smtps() as client:
        client.ehlo("client.test")
        client.user, client.password = "alice@example.com", "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.auth("PLAIN", client.auth_plain)
        assert refused.value.smtp_code == 535
        client.user, client.password = "alice@example.com", PASSWORD
        assert client.auth("PLAIN", client.auth_plain)[0] == 235
        assert client.docmd("AUTH", "PLAIN AGFsaWNl")[0] == 503  # already authenticated
