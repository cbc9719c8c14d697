"""``manage.py authd``: the auth service every mail-protocol process asks (the large profile)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agents.authsvc.server import AuthServer
from agents.loginguard.db import mail_guard


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # start fast: the checks import the whole web stack
    help = "Answer the mail agents' logins on MAILAPP_AUTH_SOCKET (one credential cache, one hash cap) until SIGTERM."

    def handle(self, *args: Any, **options: Any) -> None:
        path = settings.MAILAPP_AUTH_SOCKET
        try:
            server = AuthServer(path, mail_guard())
            server.start()
        except OSError as exc:
            raise CommandError(f"cannot listen on {path}: {exc}") from exc

        def stop(signum: int, frame: object) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()  # shutdown() waits for serve_forever

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        logging.getLogger("agents.authsvc").info("auth service listening on %s", path)
        try:
            server.serve_forever(poll_interval=0.5)
        finally:
            server.remove()
