"""``manage.py appliance``: the supervisor (what ``make run`` calls)."""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from agents.firststart import prepare, setup_token
from agents.hostname import hostname_warning
from agents.supervisor import Supervisor, default_children
from mailappliance.celery import ready_file

SETTLE = 0.5  # seconds of grace after the last child said it is ready


class Command(BaseCommand):
    help = "Start the whole appliance (web, smtp, imap, pop3, Celery worker and beat) and keep it running."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", nargs="*", help="Start only these processes (web smtp imap pop3 worker beat).")
        parser.add_argument("--no-prepare", action="store_true", help="Skip migrate/collectstatic/certificate.")

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s supervisor %(levelname)s %(message)s")
        if not options["no_prepare"]:
            for sentence in prepare():
                self.stdout.write(sentence)
        children = default_children(options["only"])
        for child in children:
            ready_file(child.name).unlink(missing_ok=True)  # a worker or beat of an earlier run said so
        supervisor = Supervisor(children, on_ready=lambda: self._greet_when_listening(children))
        signal.signal(signal.SIGTERM, supervisor.stop)
        signal.signal(signal.SIGINT, supervisor.stop)
        supervisor.run()

    def _greet_when_listening(self, children: list) -> None:
        """Print where to log in once the listeners answer and the Celery worker and beat are ready.

        Printed last, after every child's start-up lines, so the first-admin link stays on
        the screen. A thread waits, so the supervisor's loop keeps watching its children meanwhile.
        """
        ports = {
            "web": [settings.MAILAPP_HTTP_PORT],
            "smtp": [settings.MAILAPP_SMTP_PORT, settings.MAILAPP_SUBMISSION_PORT, settings.MAILAPP_SMTPS_PORT],
            "imap": [settings.MAILAPP_IMAP_PORT, settings.MAILAPP_IMAPS_PORT],
            "pop3": [settings.MAILAPP_POP3_PORT, settings.MAILAPP_POP3S_PORT],
        }
        wanted = [port for child in children for port in ports.get(child.name, [])]
        celery = [ready_file(child.name) for child in children if child.name in ("worker", "beat")]

        def wait_then_greet() -> None:
            deadline = time.monotonic() + 60
            host = "127.0.0.1" if settings.MAILAPP_BIND in ("0.0.0.0", "::") else settings.MAILAPP_BIND
            pending = list(wanted)
            waiting = list(celery)
            while (pending or waiting) and time.monotonic() < deadline:
                pending = [port for port in pending if not _answers(host, port)]
                waiting = [path for path in waiting if not path.exists()]
                if pending or waiting:
                    time.sleep(0.25)
            time.sleep(SETTLE)  # the lines a child writes right after it is ready
            self._greet(children, not_yet=pending, not_ready=[path.stem for path in waiting])

        threading.Thread(target=wait_then_greet, name="greeting", daemon=True).start()

    def _greet(self, children: list, not_yet: list[int] | None = None, not_ready: list[str] | None = None) -> None:
        bind = settings.MAILAPP_BIND
        host = "localhost" if bind in ("127.0.0.1", "::1", "0.0.0.0", "::") else bind
        web = f"http://{host}:{settings.MAILAPP_HTTP_PORT}"
        names = ", ".join(c.name for c in children)
        lines = [
            "",
            f"mailappliance is running ({names}); data in {settings.MAILAPP_HOME}",
            f"  Dashboard: {web}/dashboard/   Admin: {web}/admin/   Webmail: {web}/mail/   API: {web}/api/v1/",
            f"  SMTP {settings.MAILAPP_SMTP_PORT} (MX), {settings.MAILAPP_SUBMISSION_PORT} (submission, STARTTLS),"
            f" {settings.MAILAPP_SMTPS_PORT} (TLS); IMAP {settings.MAILAPP_IMAP_PORT}/{settings.MAILAPP_IMAPS_PORT};"
            f" POP3 {settings.MAILAPP_POP3_PORT}/{settings.MAILAPP_POP3S_PORT} on {bind}",
        ]
        token = setup_token()  # None once a superuser exists
        if token:
            lines += [
                "  No admin yet. Open this one-time link to create the first one in the browser:",
                f"    {web}/dashboard/setup/{token}/",
                "  (or in another terminal: .venv/bin/python manage.py createsuperuser)",
            ]
        lines += hostname_banner(settings.MAILAPP_HOSTNAME)
        if not_yet:
            silent = ", ".join(map(str, not_yet))
            lines.append(f"  Still not answering after a minute: ports {silent} (see the log above).")
        if not_ready:
            lines.append(f"  Not ready after a minute: {', '.join(not_ready)} (see the log above).")
        lines.append("  Stop with Ctrl-C.")
        self.stdout.write("\n".join(lines))
        self.stdout.flush()


def hostname_banner(hostname: str) -> list[str]:
    """Banner lines that cannot be missed when the host name is not a public FQDN, else none."""
    warning = hostname_warning(hostname)
    if warning is None:
        return []
    rule = "  " + "!" * 78
    return [rule, f"  WARNING: {warning}", rule]


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
