"""``manage.py imapd``: the IMAP agent (ports MAILAPP_IMAP_PORT with STARTTLS, MAILAPP_IMAPS_PORT with TLS)."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agents import aioloop


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # start fast and stay small: the checks import the whole web stack
    help = "Run the IMAP server until SIGTERM (logs to stderr)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--bind", default=None, help="address to listen on (default MAILAPP_BIND)")
        parser.add_argument("--port", type=int, default=None, help="STARTTLS port (default MAILAPP_IMAP_PORT)")
        parser.add_argument("--tls-port", type=int, default=None, help="implicit TLS port (default MAILAPP_IMAPS_PORT)")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s imapd %(levelname)s %(message)s"))
        log = logging.getLogger("agents.imap")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        host = options["bind"] or settings.MAILAPP_BIND
        port = options["port"] if options["port"] is not None else settings.MAILAPP_IMAP_PORT
        tls_port = options["tls_port"] if options["tls_port"] is not None else settings.MAILAPP_IMAPS_PORT
        try:
            aioloop.run(self._run(host, port, tls_port, log))
        except OSError as exc:
            raise CommandError(f"cannot listen on {host} ports {port}/{tls_port}: {exc}") from exc

    async def _run(self, host: str, port: int, tls_port: int, log: logging.Logger) -> None:
        from agents.imap.service import build_server

        server = build_server()
        stop = aioloop.stop_on_signals()
        bound = await server.start(host, port, tls_port)
        log.info("listening on %s ports %s", host, bound)
        await stop.wait()
        log.info("stopping")
        await server.close()
