"""``manage.py createalias ADDRESS TARGET…`` (``@domain`` for a catch-all)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from webadmin import services

from ._helpers import as_command_error


class Command(BaseCommand):
    help = "Create an alias: ADDRESS (or @domain for a catch-all) → targets, or --discard."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("address")
        parser.add_argument("targets", nargs="*")
        parser.add_argument("--discard", action="store_true", help="Accept and throw away (like /dev/null).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["targets"] and not options["discard"]:
            raise CommandError("Give at least one target, or --discard.")
        try:
            alias = services.create_alias(options["address"], options["targets"], discard=options["discard"])
        except ValidationError as exc:
            raise as_command_error(exc) from exc
        self.stdout.write(f"Created alias {alias} → {', '.join(alias.targets) or 'discard'}.")
