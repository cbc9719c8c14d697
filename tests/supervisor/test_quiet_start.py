"""`make run`'s log is quiet and its banner comes last.

The appliance starts web, worker and beat for real; its output must hold no gunicorn access
lines (unless MAILAPP_WEB_ACCESS_LOG is on), no Celery banners, no run-as-root warning, no
favicon 404, and the banner with the first-admin link must follow every child's start-up lines.
"""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from agents.supervisor import default_children
from tests.conftest import MANAGE, PYTHON, agent_env, free_port
from tests.redisdb import own_broker


def _wait_for_text(path, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = path.read_text(errors="replace")
        if text in out:
            return out
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} within {timeout} s:\n{path.read_text(errors='replace')[-3000:]}")


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_fresh_start_is_quiet_and_ends_with_the_setup_link(transactional_db, tmp_path):
    http_port = free_port()
    log = tmp_path / "out.txt"
    env = agent_env(**own_broker(), MAILAPP_HTTP_PORT=str(http_port), MAILAPP_HOME=str(tmp_path / "home"))
    with log.open("wb") as sink:
        supervisor = subprocess.Popen(
            [PYTHON, MANAGE, "appliance", "--only", "web", "worker", "beat"],
            env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        out = _wait_for_text(log, "Stop with Ctrl-C.", 120)
        assert _get(f"http://127.0.0.1:{http_port}/dashboard/login/") == 200
        assert _get(f"http://127.0.0.1:{http_port}/favicon.ico") == 200  # redirected to the icon, no 404
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=60)
    out = log.read_text(errors="replace")
    banner = out.index("mailappliance is running")
    assert out.index("No admin yet") > banner
    for ready_line in ("worker@", "beat: Starting", "Booting worker"):
        assert out.rindex(ready_line, 0, banner) < banner, f"{ready_line!r} should come before the banner"
    assert "ready." in out[:banner]
    for noise in ('"GET /dashboard/login/', "-------------- worker@", "celery beat v", "superuser privileges",
                  "Not Found: /favicon.ico", "[tasks]"):  # fmt: skip
        assert noise not in out, f"{noise!r} in the log"


@pytest.mark.parametrize("on", [False, True])
def test_the_access_log_is_one_setting_away(settings, on):
    settings.MAILAPP_WEB_ACCESS_LOG = on
    [web] = default_children(["web"])
    assert ("--access-logfile" in web.argv) is on
