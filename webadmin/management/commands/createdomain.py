"""``manage.py createdomain NAME --postmaster ADDRESS``."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser

from webadmin import services

from ._helpers import as_command_error


class Command(BaseCommand):
    help = "Create a mail domain with its postmaster@ and abuse@ aliases."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Domain name, e.g. example.com (Unicode names are fine).")
        parser.add_argument("--postmaster", required=True,
                            help="Mailbox for postmaster@ and abuse@ mail (made if new in this domain).")
        parser.add_argument("--quota", type=int, help="Default mailbox quota in bytes (0 = unlimited).")
        parser.add_argument("--max-mailboxes", type=int, default=0)
        parser.add_argument("--description", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        fields: dict[str, Any] = {"max_mailboxes": options["max_mailboxes"], "description": options["description"]}
        if options["quota"] is not None:
            fields["default_quota"] = options["quota"]
        try:
            result = services.create_domain(options["name"], options["postmaster"], **fields)
        except ValidationError as exc:
            raise as_command_error(exc) from exc
        self.stdout.write(f"Created domain {result.domain} ({result.domain.name}); "
                          f"postmaster@ and abuse@ go to {result.postmaster}.")
        if result.created_mailbox:
            self.stdout.write(f"Created mailbox {result.created_mailbox}: set its password with "
                              f"`manage.py setpassword {result.created_mailbox}`.")
