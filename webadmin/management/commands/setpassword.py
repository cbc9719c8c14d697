"""``manage.py setpassword ADDRESS [--password-stdin]``."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.config import canonical_address
from webadmin import services
from webadmin.models import Mailbox

from ._helpers import as_command_error, read_password


class Command(BaseCommand):
    help = "Set a mailbox's password (stored as a hash)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("address")
        parser.add_argument("--password-stdin", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        address = canonical_address(options["address"]) or ""
        local, _, domain = address.rpartition("@")
        mailbox = Mailbox.objects.filter(domain__name=domain, local_part=local).first()
        if mailbox is None:
            raise CommandError(f"There is no mailbox {options['address']}.")
        try:
            services.set_mailbox_password(mailbox, read_password(options["password_stdin"]))
        except ValidationError as exc:
            raise as_command_error(exc) from exc
        self.stdout.write(f"Password of {mailbox} set.")
