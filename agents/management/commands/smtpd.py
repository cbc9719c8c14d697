"""``manage.py smtpd``: the smtp agent (MX, submission and SMTPS listeners)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from agents.smtp.server import run
from agents.smtp.workers import default_workers


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # start fast: the checks import the whole web stack
    help = "Receive mail by SMTP on the MX, submission and SMTPS ports and queue it (runs until SIGTERM)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workers", type=int, default=default_workers(),
            help="Worker processes sharing the listeners (default: 1 on SQLite, else one per core, at most 8).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        code = run(options["workers"])
        sys.stderr.flush()
        if code:
            sys.exit(code)
