"""An idle appliance does not load the libraries only some requests need (issue 23's footprint).

Each of these costs 1–15 MiB of Python heap per interpreter, and on the small profile the
supervisor preloads whatever its children import, for all of them. They load on first use
instead: ACME with a renewal, boto3 with a backup to S3, prometheus-client with a scrape, sievelib with a script, the
mail-authentication stack with the first message on the MX door, and the optional imports of
DRF and Celery's command line not at all (``mailappliance.unused``). A merge that imports one
of them at module level again fails here, not 30 MiB later in ``bench/footprint.py``.
"""

import json
import subprocess
import sys

from tests.conftest import REPO, agent_env, free_port

ON_USE_ONLY = (
    "acme", "josepy",  # agents.acme, when a certificate is renewed
    "boto3", "botocore",  # agents.backup.targets, when a backup goes to S3
    "prometheus_client",  # webadmin.dashboard.metrics_collector, when /metrics is scraped
    "sievelib",  # mailcore.sieve, when a script is checked or run
    "dkim", "spf", "nacl", "publicsuffix2", "authres",  # agents.mailauth.inbound, first message on the MX door
    "segno",  # webadmin.dashboard.otp, when a staff user enrols a second factor
    "requests", "pygments", "django.contrib.postgres.fields", "jinja2",  # refused: mailappliance.unused
    "click_repl", "prompt_toolkit",  # Celery's whole command line: mailappliance.celerycli runs only `worker`, `beat`
)  # fmt: skip

PRELOADED = """
import django, json, sys
django.setup()
from agents.management.commands import appliance
from agents.supervisor import Supervisor
Supervisor.preload(appliance.PRELOAD, then=appliance._warm_up)
print(json.dumps(sorted(sys.modules)))
"""

AGENTS_SERVING = """
import asyncio, django, json, socket, sys, time
django.setup()
from django.conf import settings
from agents import mailagents

def answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False

async def main():
    stop = asyncio.Event()
    served = asyncio.create_task(mailagents.serve(mailagents.PROTOCOLS, stop))
    ports = [settings.MAILAPP_SMTP_PORT, settings.MAILAPP_IMAP_PORT, settings.MAILAPP_POP3_PORT,
             settings.MAILAPP_MANAGESIEVE_PORT]
    deadline = time.monotonic() + 30
    while not all([await asyncio.to_thread(answers, port) for port in ports]):
        assert time.monotonic() < deadline and not served.done(), "the mail agents did not start"
        await asyncio.sleep(0.1)
    stop.set()
    assert await served == 0
    print(json.dumps(sorted(sys.modules)))

asyncio.run(main())
"""


def modules_after(script: str, **env: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", script], env=agent_env(**env), cwd=REPO, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_supervisors_preload_holds_no_library_that_waits_for_its_first_use():
    loaded = modules_after(PRELOADED, MAILAPP_PROFILE="small")
    assert "mailappliance.urls" in loaded and "agents.tasks" in loaded and "celery.apps.worker" in loaded
    assert sorted(name for name in ON_USE_ONLY if name in loaded) == []


def test_the_mail_agents_serving_every_port_hold_none_of_them_either():
    ports = {name: str(free_port()) for name in ("SMTP", "SUBMISSION", "SMTPS", "IMAP", "IMAPS", "POP3", "POP3S",
                                                 "MANAGESIEVE")}  # fmt: skip
    loaded = modules_after(AGENTS_SERVING, **{f"MAILAPP_{name}_PORT": port for name, port in ports.items()})
    assert "agents.managesieve.server" in loaded and "agents.mailauth.hooks" in loaded
    assert sorted(name for name in ON_USE_ONLY if name in loaded) == []
