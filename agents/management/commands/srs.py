"""``manage.py srs rotate [--keep N]`` / ``manage.py srs show``: the SRS secrets for forwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore import srs


class Command(BaseCommand):
    help = ("Rotate the SRS secret: a new one signs from now on, the old ones still verify bounces "
            "(--keep N keeps only the N newest old ones).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["rotate", "show"])
        parser.add_argument("--keep", type=int, default=None,
                            help="How many old secrets to keep for verifying (default: all).")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.MAILAPP_SRS_SECRETS_FILE)
        if options["keep"] is not None and options["keep"] < 0:
            raise CommandError("--keep takes a number of old secrets, 0 or more.")
        if options["action"] == "rotate":
            keys = srs.rotate(path, keep=options["keep"])
            self.stdout.write(f"new SRS secret in {path.name}; {len(keys) - 1} older secret(s) still verify")
        else:
            keys = srs.read_secrets(path)
            self.stdout.write(f"{len(keys)} SRS secret(s) in {path.name}; the newest signs, all verify")
