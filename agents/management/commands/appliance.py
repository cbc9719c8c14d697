"""``manage.py appliance``: the supervisor (what ``make run`` calls)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from agents.firststart import prepare, setup_token
from agents.hostname import hostname_warning
from agents.supervisor import Supervisor, default_children
from mailappliance.celery import ready_file

SETTLE = 0.5  # seconds of grace after the last child said it is ready

# What the children import, loaded once by the supervisor on a preloading profile
# (MAILAPP_PRELOAD) so that the forked children share it: the web application with its
# URLs, gunicorn, the three mail agents, Celery's command line, worker and beat with the tasks.
PRELOAD = [
    "mailappliance.wsgi", "mailappliance.urls", "gunicorn.app.wsgiapp", "gunicorn.workers.gthread",
    "agents.mailagents", "agents.smtp.server", "agents.smtp.directory", "agents.imap.service", "agents.pop3.runner",
    "uvloop", "mailappliance.celerycli", "celery.bin.worker", "celery.apps.worker", "celery.worker.components",
    "celery.worker.consumer", "celery.concurrency.thread", "celery.beat", "celery.backends.base",
    "django.db.migrations.executor", "agents.tasks", "mailappliance.fsbroker",
]  # fmt: skip


class Command(BaseCommand):
    # The supervisor stays resident: it does not keep the whole web stack the checks import.
    # The first-start preparation runs them (migrate does) in a child that exits.
    requires_system_checks: list[str] = []
    help = "Start the whole appliance (web, smtp, imap, pop3, Celery worker and beat) and keep it running."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", nargs="*", help="Start only these (web smtp imap pop3 worker beat).")
        parser.add_argument("--no-prepare", action="store_true", help="Skip migrate/collectstatic/certificate.")

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s supervisor %(levelname)s %(message)s")
        if not options["no_prepare"]:
            self._prepare_in_child()
        children = default_children(options["only"])
        # Beat's schedule, the ready files and the auth socket live here: it must exist even when the
        # preparation was skipped (--no-prepare) and no file-system broker made it on the way.
        Path(settings.MAILAPP_RUN_DIR).mkdir(parents=True, exist_ok=True)
        for child in children:
            for role in child.roles:
                ready_file(role).unlink(missing_ok=True)  # a worker or beat of an earlier run said so
        if settings.MAILAPP_PRELOAD:
            Supervisor.preload(PRELOAD, then=_warm_up)
        supervisor = Supervisor(
            children, on_ready=lambda: self._greet_when_listening(children), fork=settings.MAILAPP_PRELOAD
        )
        signal.signal(signal.SIGTERM, supervisor.stop)
        signal.signal(signal.SIGINT, supervisor.stop)
        supervisor.run()

    def _prepare_in_child(self) -> None:
        """Run :func:`prepare` (checks, migrations, static files, certificate) in a forked child.

        What migrate and collectstatic import (every migration, the storage machinery) then
        leaves with the child instead of staying in the supervisor for its whole life. No
        thread runs yet, so forking is safe.
        """
        connections.close_all()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                for sentence in prepare():
                    self.stdout.write(sentence)
                code = 0
            except BaseException:
                logging.getLogger("agents.supervisor").exception("preparing MAILAPP_HOME failed")
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise CommandError("could not prepare MAILAPP_HOME (migrations, static files, certificate): see above")

    def _greet_when_listening(self, children: list) -> None:
        """Print where to log in once the listeners answer and the Celery worker and beat are ready.

        Printed last, after every child's start-up lines, so the first-admin link stays on
        the screen. A thread waits, so the supervisor's loop keeps watching its children meanwhile. It
        neither queries the database, nor resolves names, nor takes the stdout buffer's lock
        (it writes to the file descriptor): the supervisor may fork a child at any moment, and
        a lock held by this thread would stay held forever in that child. What needs those is
        done here, before the thread starts.
        """
        token = setup_token()  # None once a superuser exists
        banner = hostname_banner(settings.MAILAPP_HOSTNAME)
        ports = {
            "web": [settings.MAILAPP_HTTP_PORT],
            "smtp": [settings.MAILAPP_SMTP_PORT, settings.MAILAPP_SUBMISSION_PORT, settings.MAILAPP_SMTPS_PORT],
            "imap": [settings.MAILAPP_IMAP_PORT, settings.MAILAPP_IMAPS_PORT],
            "pop3": [settings.MAILAPP_POP3_PORT, settings.MAILAPP_POP3S_PORT],
        }
        wanted = [port for child in children for role in child.roles for port in ports.get(role, [])]
        celery = [ready_file(role) for child in children for role in child.roles if role in ("worker", "beat")]

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
            not_ready = [path.stem for path in waiting]
            os.write(sys.stdout.fileno(), (self._greeting(children, token, banner, pending, not_ready) + "\n").encode())

        threading.Thread(target=wait_then_greet, name="greeting", daemon=True).start()

    def _greet(self, children: list, not_yet: list[int] | None = None) -> None:
        """Print the greeting now (from the main thread)."""
        token = setup_token()  # None once a superuser exists
        self.stdout.write(self._greeting(children, token, hostname_banner(settings.MAILAPP_HOSTNAME), not_yet))
        self.stdout.flush()

    @staticmethod
    def _greeting(children: list, token: str | None, banner: list[str], not_yet: list[int] | None = None,
                  not_ready: list[str] | None = None) -> str:
        bind = settings.MAILAPP_BIND
        host = "localhost" if bind in ("127.0.0.1", "::1", "0.0.0.0", "::") else bind
        web = f"http://{host}:{settings.MAILAPP_HTTP_PORT}"
        names = ", ".join(role for c in children for role in c.roles)
        lines = [
            "",
            f"mailappliance is running ({names}); data in {settings.MAILAPP_HOME}",
            f"  Dashboard: {web}/dashboard/   Admin: {web}/admin/   Webmail: {web}/mail/   API: {web}/api/v1/",
            f"  SMTP {settings.MAILAPP_SMTP_PORT} (MX), {settings.MAILAPP_SUBMISSION_PORT} (submission, STARTTLS),"
            f" {settings.MAILAPP_SMTPS_PORT} (TLS); IMAP {settings.MAILAPP_IMAP_PORT}/{settings.MAILAPP_IMAPS_PORT};"
            f" POP3 {settings.MAILAPP_POP3_PORT}/{settings.MAILAPP_POP3S_PORT} on {bind}",
        ]
        if token:
            lines += [
                "  No admin yet. Open this one-time link to create the first one in the browser:",
                f"    {web}/dashboard/setup/{token}/",
                "  (or in another terminal: .venv/bin/python manage.py createsuperuser)",
            ]
        lines += banner
        if not_yet:
            silent = ", ".join(map(str, not_yet))
            lines.append(f"  Still not answering after a minute: ports {silent} (see the log above).")
        if not_ready:
            lines.append(f"  Not ready after a minute: {', '.join(not_ready)} (see the log above).")
        lines.append("  Stop with Ctrl-C.")
        return "\n".join(lines)


def _warm_up() -> None:
    """Build, before the children fork, what each would otherwise build for itself: the URL
    resolver's tables, the Celery app's task registry, and the system checks' findings (run
    here once; the worker is told to skip them, see ``default_children``)."""
    from django.core.checks import run_checks
    from django.urls import get_resolver

    from mailappliance.celery import app

    get_resolver().url_patterns  # noqa: B018 - imports every view
    app.loader.import_default_modules()
    app.finalize()
    problems = [message for message in run_checks() if message.is_serious()]
    if problems:
        raise CommandError("system check failed:\n" + "\n".join(str(message) for message in problems))


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
