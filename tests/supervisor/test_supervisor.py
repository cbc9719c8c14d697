"""The supervisor runs real children, restarts a killed one, and stops them all on SIGTERM."""

import os
import signal
import subprocess
import time
import urllib.request

import pytest

from agents.models import AgentProcess
from tests.conftest import MANAGE, PYTHON, agent_env, free_port
from tests.redisdb import own_broker


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def running(name):
    row = AgentProcess.objects.filter(name=name, state="running").first()
    return row if row and row.pid and alive(row.pid) else None


@pytest.mark.parametrize("profile", ["small", "large"])
def test_supervisor_restarts_a_killed_worker_and_stops_everything_on_sigterm(transactional_db, tmp_path, profile):
    http_port = free_port()
    env = agent_env(**own_broker(), MAILAPP_HTTP_PORT=str(http_port), MAILAPP_PROFILE=profile)
    with open(tmp_path / "appliance.log", "wb") as log:  # a file, not a pipe nobody reads (it could fill up)
        supervisor = subprocess.Popen(
            [PYTHON, MANAGE, "appliance", "--no-prepare", "--only", "web", "worker"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        web = wait_for(lambda: running("web"), 30, "the web server")
        worker = wait_for(lambda: running("worker"), 30, "the worker")
        page = wait_for(lambda: _get(f"http://127.0.0.1:{http_port}/admin/login/"), 30, "the admin page")
        assert b"mailappliance" in page

        os.kill(worker.pid, signal.SIGKILL)
        # The first restart comes after a short backoff; 60 s only bounds the wait on a busy machine.
        restarted = wait_for(
            lambda: (r := running("worker")) and r.pid != worker.pid and r, 60, "the worker to come back"
        )
        assert restarted.restarts == 1
        assert AgentProcess.objects.get(name="worker").last_exit == "signal 9"

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
        assert not alive(web.pid) and not alive(restarted.pid)
        assert set(AgentProcess.objects.values_list("state", flat=True)) == {"stopped"}
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def test_a_restart_asked_for_from_the_dashboard_is_carried_out(transactional_db):
    env = agent_env(**own_broker(), MAILAPP_HTTP_PORT=str(free_port()))
    supervisor = subprocess.Popen(
        [PYTHON, MANAGE, "appliance", "--no-prepare", "--only", "web"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        first = wait_for(lambda: running("web"), 30, "the web server")
        AgentProcess.objects.filter(name="web").update(restart_requested=True)
        wait_for(lambda: (r := running("web")) and r.pid != first.pid, 20, "the restart")
        assert not AgentProcess.objects.get(name="web").restart_requested
    finally:
        supervisor.terminate()
        supervisor.wait(timeout=30)


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read()
    except OSError:
        return None
