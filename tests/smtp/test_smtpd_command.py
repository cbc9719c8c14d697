"""``manage.py smtpd`` starts its three listeners (in worker processes) and exits 0 on SIGTERM."""

from __future__ import annotations

import signal
import smtplib

from .agentproc import AgentProcess


def test_smtpd_serves_and_exits_cleanly_on_sigterm(transactional_db, example_com):
    agent = AgentProcess()
    try:
        with smtplib.SMTP("127.0.0.1", agent.mx, timeout=10) as client:
            assert client.ehlo("client.test")[0] == 250
        agent.proc.send_signal(signal.SIGTERM)
        assert agent.proc.wait(15) == 0
        assert b"Traceback" not in agent.proc.stderr.read()
    finally:
        agent.stop()


def test_smtpd_process_speaks_starttls_and_implicit_tls(transactional_db, example_com):
    import ssl

    from django.conf import settings

    from tests.conftest import PASSWORD

    agent = AgentProcess(workers=1, MAILAPP_DEV_MODE="0")
    context = ssl.create_default_context(cafile=str(settings.MAILAPP_TLS_CERT))
    try:
        with smtplib.SMTP("127.0.0.1", agent.submission, timeout=10) as client:
            client.starttls(context=context)
            client.login("alice@example.com", PASSWORD)
            assert client.sendmail("alice@example.com", ["bob@example.com"], b"Subject: tls\r\n\r\nx\r\n") == {}
        with smtplib.SMTP_SSL("127.0.0.1", agent.smtps, timeout=10, context=context) as client:
            client.login("bob@example.com", PASSWORD)
            assert client.sendmail("bob@example.com", ["alice@example.com"], b"Subject: tls\r\n\r\nx\r\n") == {}
    finally:
        agent.stop()
