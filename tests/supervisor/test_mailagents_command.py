"""``manage.py mailagents``: smtp, imap and pop3 in one process, and one failing takes the process down.

A protocol server that cannot run must not leave the other two serving on their own: the
process exits non-zero, and the supervisor restarts the three together.
"""

import smtplib
import socket
import subprocess
import time

from tests.conftest import MANAGE, PYTHON, agent_env, free_port

PORTS = ("SMTP", "SUBMISSION", "SMTPS", "IMAP", "IMAPS", "POP3", "POP3S", "MANAGESIEVE")


def answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def greeting(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        return sock.recv(200)


def start(ports, *protocols):
    env = agent_env(**{f"MAILAPP_{name}_PORT": str(port) for name, port in ports.items()})
    return subprocess.Popen([PYTHON, MANAGE, "mailagents", *protocols], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip


def test_one_process_serves_smtp_imap_and_pop3(transactional_db):
    ports = {name: free_port() for name in PORTS}
    agents = start(ports)
    try:
        deadline = time.monotonic() + 60
        while not all(answers(port) for port in ports.values()):
            assert agents.poll() is None, agents.stdout.read().decode()
            assert time.monotonic() < deadline, "the mail agents never listened on every port"
            time.sleep(0.2)
        with smtplib.SMTP("127.0.0.1", ports["SMTP"], timeout=10) as client:
            assert client.ehlo()[0] == 250
        assert greeting(ports["IMAP"]).startswith(b"* OK")
        assert greeting(ports["POP3"]).startswith(b"+OK")
        assert greeting(ports["MANAGESIEVE"]).startswith(b'"IMPLEMENTATION" "mailappliance"')
    finally:
        agents.terminate()
        code = agents.wait(timeout=30)
        agents.stdout.close()
    assert code == 0


def test_a_protocol_that_fails_takes_the_others_down(transactional_db):
    ports = {name: free_port() for name in PORTS}
    with socket.socket() as taken:  # pop3 cannot listen: its port is someone else's
        taken.bind(("127.0.0.1", ports["POP3"]))
        taken.listen()
        agents = start(ports)
        try:
            code = agents.wait(timeout=60)
            output = agents.stdout.read().decode()
        finally:
            if agents.poll() is None:
                agents.kill()
                agents.wait()
            agents.stdout.close()
    assert code == 1
    assert "pop3 agent failed" in output
    assert not answers(ports["SMTP"]) and not answers(ports["IMAP"])


def test_an_unknown_protocol_is_refused():
    done = subprocess.run([PYTHON, MANAGE, "mailagents", "smtp", "nntp"], env=agent_env(), capture_output=True,
                          timeout=60)  # fmt: skip
    assert done.returncode != 0
    assert b"unknown protocol nntp" in done.stderr
