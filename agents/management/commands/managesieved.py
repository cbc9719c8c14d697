"""``manage.py managesieved``: the ManageSieve agent (RFC 5804, port MAILAPP_MANAGESIEVE_PORT with STARTTLS)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from agents import aioloop
from agents.managesieve.runner import build_server


async def _serve() -> None:
    server = build_server()
    stop = aioloop.stop_on_signals()
    await server.start()
    await stop.wait()
    await server.stop()


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = "Run the ManageSieve server (RFC 5804: STARTTLS, SASL PLAIN and LOGIN) until SIGTERM."

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s managesieve %(levelname)s %(message)s")
        try:
            asyncio.run(_serve())
        except OSError as exc:
            raise CommandError(f"cannot listen for ManageSieve: {exc} (is another server on the port?)") from exc
