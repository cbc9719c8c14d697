"""``manage.py smtpd``: the smtp agent (MX, submission and SMTPS listeners)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from agents.smtp.server import run


class Command(BaseCommand):
    help = "Receive mail by SMTP on the MX, submission and SMTPS ports and queue it (runs until SIGTERM)."

    def handle(self, *args: Any, **options: Any) -> None:
        code = run()
        sys.stderr.flush()
        if code:
            sys.exit(code)
