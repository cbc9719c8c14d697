"""``manage.py mailagents``: the smtp, imap and pop3 agents in one process (the small profile)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.mailagents import PROTOCOLS, run


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # start fast and stay small: the checks import the whole web stack
    help = "Run the smtp, imap and pop3 agents in one process until SIGTERM (logs to stderr)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("protocols", nargs="*", help="Protocols to serve (default: smtp imap pop3).")

    def handle(self, *args: Any, **options: Any) -> None:
        protocols = options["protocols"] or list(PROTOCOLS)
        unknown = sorted(set(protocols) - set(PROTOCOLS))
        if unknown:
            raise CommandError(f"unknown protocol {', '.join(unknown)}: choose among {', '.join(PROTOCOLS)}")
        code = run(protocols)
        sys.stderr.flush()
        if code:
            sys.exit(code)
