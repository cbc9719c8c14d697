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
