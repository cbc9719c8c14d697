"""``manage.py imapd`` starts cleanly as a child process, serves, and exits 0 on SIGTERM."""

import imaplib
import signal
import ssl
import subprocess
import time

from tests.conftest import MANAGE, PASSWORD, PYTHON, agent_env, free_port
from tests.imap.conftest import ALICE


def test_imapd_serves_and_stops_on_sigterm(transactional_db, example_com, tmp_path):
    port, tls_port = free_port(), free_port()
    env = agent_env(MAILAPP_IMAP_PORT=str(port), MAILAPP_IMAPS_PORT=str(tls_port), MAILAPP_BIND="127.0.0.1",
                    MAILAPP_DEV_MODE="1")
    proc = subprocess.Popen([PYTHON, MANAGE, "imapd"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                imap = imaplib.IMAP4("127.0.0.1", port, timeout=5)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
                time.sleep(0.2)
        assert imap.login(ALICE, PASSWORD)[0] == "OK"
        assert imap.select("INBOX")[0] == "OK"
        imap.logout()
        upgraded = imaplib.IMAP4("127.0.0.1", port, timeout=5)  # STARTTLS on the agent's own loop (uvloop)
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the agent's self-made certificate
        assert upgraded.starttls(context)[0] == "OK"
        assert upgraded.login(ALICE, PASSWORD)[0] == "OK"
        assert upgraded.select("INBOX")[0] == "OK"
        upgraded.logout()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert b"listening" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()
