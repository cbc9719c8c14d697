"""The large profile's smtp agent as several processes sharing the ports (SO_REUSEPORT).

The supervisor starts ``MAILAPP_SMTP_PROCESSES`` smtp children; every one of them accepts
connections on the same MX port; one killed with SIGKILL leaves the port answering (the
others keep listening) and is restarted on its own; a restart asked for ``smtp`` from the
dashboard restarts them all; SIGTERM stops them all.
"""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import time

from django.test import override_settings

from agents.models import AgentProcess, QueueMessage
from agents.supervisor import default_children
from tests.conftest import MANAGE, PYTHON, agent_env, free_port
from tests.redisdb import own_broker

from .test_supervisor import alive, running, wait_for

PROCESSES = 2


def test_the_large_layout_has_one_child_per_smtp_process():
    with override_settings(MAILAPP_COMBINED_AGENTS=False, MAILAPP_SMTP_PROCESSES=3, MAILAPP_IMAP_PROCESSES=1):
        children = default_children(["smtp", "imap"])
    assert [(c.name, c.roles, c.group) for c in children] == [
        ("auth", ("auth",), "auth"),
        ("smtp", ("smtp",), "smtp"), ("smtp-2", ("smtp-2",), "smtp"), ("smtp-3", ("smtp-3",), "smtp"),
        ("imap", ("imap",), "imap")]
    assert children[1].argv == children[2].argv == children[3].argv and children[1].argv[-1] == "smtpd"
    assert children[0].argv[-1] == "authd" and "MAILAPP_AUTH_SERVICE" not in children[0].extra_env
    assert all(c.extra_env["MAILAPP_AUTH_SERVICE"] == "1" for c in children[1:])  # they ask the one service
    with override_settings(MAILAPP_COMBINED_AGENTS=True, MAILAPP_SMTP_PROCESSES=3):
        assert [c.name for c in default_children(["smtp", "imap"])] == ["agents"]  # the small layout is unchanged


def test_imap_and_pop3_run_as_several_processes_too():
    with override_settings(MAILAPP_COMBINED_AGENTS=False, MAILAPP_SMTP_PROCESSES=1, MAILAPP_IMAP_PROCESSES=2,
                           MAILAPP_POP3_PROCESSES=2):
        children = default_children(["smtp", "imap", "pop3", "managesieve"])
    assert [(c.name, c.group, c.argv[-1]) for c in children] == [
        ("auth", "auth", "authd"), ("smtp", "smtp", "smtpd"), ("imap", "imap", "imapd"), ("imap-2", "imap", "imapd"),
        ("pop3", "pop3", "pop3d"), ("pop3-2", "pop3", "pop3d"), ("managesieve", "managesieve", "managesieved")]
    with override_settings(MAILAPP_COMBINED_AGENTS=True, MAILAPP_IMAP_PROCESSES=2, MAILAPP_POP3_PROCESSES=2):
        assert [c.name for c in default_children(["imap", "pop3"])] == ["agents"]  # one process in the small profile


def send(port: int, n: int) -> str:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.remote.test")
        client.mail("carol@remote.test")
        client.rcpt("alice@example.com")
        code, reply = client.data(f"Subject: {n}\r\nMessage-ID: <{n}@remote.test>\r\n\r\nhello\r\n".encode())
    assert code == 250, reply
    return reply.decode().split()[-1]


def serving_pids(port: int, pids: set[int], tries: int = 200) -> set[int]:
    """Which of ``pids`` hold an established connection to ``port`` while we connect (bounded tries)."""
    seen: set[int] = set()
    for _ in range(tries):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                local = client.sock.getsockname()[1]
                for pid in pids:
                    if _has_connection(pid, port, local):
                        seen.add(pid)
        except OSError:  # not listening yet
            time.sleep(0.1)
        if seen == pids:
            break
    return seen


def _has_connection(pid: int, port: int, peer_port: int) -> bool:
    """Does process ``pid`` own the server side of the connection from ``peer_port`` to ``port``?"""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    with open(f"/proc/{pid}/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == peer_port:
                return inode in inodes
    return False


def test_smtp_processes_share_the_port_and_are_restarted_one_by_one(transactional_db, example_com, tmp_path):
    mx = free_port()
    env = agent_env(**own_broker(), MAILAPP_HTTP_PORT=str(free_port()),
                    MAILAPP_PROFILE="large", MAILAPP_SMTP_PROCESSES=str(PROCESSES),
                    MAILAPP_SMTP_PORT=str(mx), MAILAPP_SUBMISSION_PORT=str(free_port()),
                    MAILAPP_SMTPS_PORT=str(free_port()), MAILAPP_BIND="127.0.0.1")
    with open(tmp_path / "appliance.log", "wb") as log:
        supervisor = subprocess.Popen([PYTHON, MANAGE, "appliance", "--no-prepare", "--only", "smtp"],
                                      env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        first = wait_for(lambda: running("smtp"), 60, "smtp")
        second = wait_for(lambda: running("smtp-2"), 60, "smtp-2")
        assert first.pid != second.pid
        wait_for(lambda: serving_pids(mx, {first.pid, second.pid}, tries=20) == {first.pid, second.pid}, 60,
                 "both processes to take connections on the one port")
        accepted = [send(mx, n) for n in range(5)]

        os.kill(second.pid, signal.SIGKILL)
        # Connections the kernel had queued for the killed process are reset with it (clients
        # retry); once it is gone, the port answers through the other process, before the restart.
        wait_for(lambda: not alive(second.pid), 30, "the killed process to be gone")
        accepted += [send(mx, n) for n in range(5, 10)]
        restarted = wait_for(lambda: (r := running("smtp-2")) and r.pid != second.pid and r, 60, "smtp-2 back")
        assert restarted.restarts == 1 and AgentProcess.objects.get(name="smtp-2").last_exit == "signal 9"
        assert running("smtp").pid == first.pid, "the other process was not touched"
        wait_for(lambda: serving_pids(mx, {first.pid, restarted.pid}, tries=20) == {first.pid, restarted.pid},
                 60, "the restarted process to take connections again")

        AgentProcess.objects.filter(name="smtp").update(restart_requested=True)
        wait_for(lambda: (a := running("smtp")) and (b := running("smtp-2")) and a.pid != first.pid
                 and b.pid != restarted.pid, 60, "a restart of smtp to restart every smtp process")
        pids = {running("smtp").pid, running("smtp-2").pid}
        wait_for(lambda: serving_pids(mx, pids, tries=20) == pids, 60, "the new processes to take connections")
        accepted.append(send(mx, 10))
        assert set(QueueMessage.objects.values_list("queue_id", flat=True)) >= set(accepted)

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0
        assert not any(alive(pid) for pid in pids)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
