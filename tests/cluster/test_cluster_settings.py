"""Cluster mode is refused at start without the servers it needs, with a sentence saying which."""

import subprocess

from tests.conftest import MANAGE, PYTHON, REPO, agent_env


def start(**env: str) -> subprocess.CompletedProcess:
    environment = agent_env(MAILAPP_CLUSTER="1", **env)
    for name in [k for k, v in env.items() if v == ""]:
        environment.pop(name, None)
    return subprocess.run([PYTHON, MANAGE, "check"], cwd=REPO, env=environment, capture_output=True, timeout=60)


def test_cluster_mode_needs_postgresql_and_a_shared_broker():
    on_sqlite = start(DATABASE_URL="", CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    assert on_sqlite.returncode != 0
    assert b"MAILAPP_CLUSTER=1 needs PostgreSQL" in on_sqlite.stderr
    on_files = start(DATABASE_URL="postgres://nobody@127.0.0.1:1/none", CELERY_BROKER_URL="")
    assert on_files.returncode != 0
    assert b"MAILAPP_CLUSTER=1 needs a shared broker" in on_files.stderr


def test_a_trusted_proxy_that_is_no_address_is_refused_at_start():
    environment = agent_env(MAILAPP_TRUSTED_PROXIES="10.0.0.5, mail-proxy.example.com")
    refused = subprocess.run([PYTHON, MANAGE, "check"], cwd=REPO, env=environment, capture_output=True, timeout=60)
    assert refused.returncode != 0
    assert b"MAILAPP_TRUSTED_PROXIES: 'mail-proxy.example.com' is not an IP address or network" in refused.stderr
