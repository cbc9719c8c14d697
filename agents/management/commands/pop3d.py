"""``manage.py pop3d``: the POP3 agent (ports MAILAPP_POP3_PORT with STLS and MAILAPP_POP3S_PORT)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from agents import aioloop
from agents.pop3.runner import build_server, serve


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # start fast and stay small: the checks import the whole web stack
    help = "Run the POP3 server (RFC 1939 with CAPA, STLS, SASL PLAIN) until SIGTERM."

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s pop3 %(levelname)s %(message)s")
        try:
            server = build_server()
            aioloop.run(serve(server))
        except OSError as exc:
            raise CommandError(f"cannot listen for POP3: {exc} (is another server on the port?)") from exc
