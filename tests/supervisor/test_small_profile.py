"""The small profile: three processes answer on every port, and a killed mail-agents process comes back.

``MAILAPP_PROFILE=small`` runs smtp, imap and pop3 in one process (``manage.py
mailagents``), one threaded web worker, and a threaded Celery worker with beat
on a thread, all forked from the supervisor. The dashboard's rows stay one per
role: smtp, imap and pop3 share the mail agents' pid, worker and beat the
worker's.
"""

import os
import signal
import socket
import subprocess
from pathlib import Path

from agents.models import AgentProcess
from tests.conftest import MANAGE, PYTHON, agent_env, free_port
from tests.redisdb import own_broker
from tests.supervisor.test_supervisor import alive, wait_for

PORTS = ("HTTP", "SMTP", "SUBMISSION", "SMTPS", "IMAP", "IMAPS", "POP3", "POP3S", "MANAGESIEVE")


def answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def rows():
    """role -> (pid, restarts) of the rows marked running whose process is alive."""
    found = {r.name: (r.pid, r.restarts) for r in AgentProcess.objects.filter(state="running")}
    return {name: value for name, value in found.items() if value[0] and alive(value[0])}


def children_of(pid):
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def test_small_profile_runs_three_processes_and_restarts_the_killed_mail_agents(transactional_db, tmp_path):
    ports = {name: free_port() for name in PORTS}
    env = agent_env(**own_broker(), MAILAPP_PROFILE="small",
                    **{f"MAILAPP_{name}_PORT": str(port) for name, port in ports.items()})
    log = tmp_path / "appliance.log"
    with open(log, "wb") as out:
        supervisor = subprocess.Popen([PYTHON, MANAGE, "appliance", "--no-prepare"], env=env, stdout=out,
                                      stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for(lambda: all(answers(port) for port in ports.values()), 90, "every port to answer")
        running = wait_for(lambda: (r := rows()) and len(r) == 7 and r, 30, "seven running roles")
        assert running["smtp"][0] == running["imap"][0] == running["pop3"][0] == running["managesieve"][0]
        assert running["worker"][0] == running["beat"][0]
        web, agents, worker = running["web"][0], running["smtp"][0], running["worker"][0]
        assert len({web, agents, worker}) == 3
        assert children_of(supervisor.pid) == {web, agents, worker}
        assert len(children_of(web)) == 1  # gunicorn's master and its one threaded worker
        assert children_of(agents) == set() and children_of(worker) == set()  # threads, not forks
        wait_for(lambda: b"beat: Starting" in log.read_bytes(), 30, "beat to start on the worker's thread")

        os.kill(agents, signal.SIGKILL)
        after = wait_for(
            lambda: (r := rows()) and all(role in r and r[role][0] != agents for role in ("smtp", "imap", "pop3"))
            and r, 30, "the mail agents to come back",
        )
        assert after["smtp"][0] == after["imap"][0] == after["pop3"][0]
        assert after["smtp"][1] == after["imap"][1] == after["pop3"][1] == 1
        assert after["web"][0] == web and after["worker"][0] == worker  # the others never went down
        wait_for(lambda: all(answers(ports[name]) for name in PORTS[1:]), 30, "the mail ports to answer again")

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
        assert not any(alive(pid) for pid in (web, after["smtp"][0], worker))
        assert set(AgentProcess.objects.values_list("state", flat=True)) == {"stopped"}
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
