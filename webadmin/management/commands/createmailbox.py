"""``manage.py createmailbox ADDRESS [--password-stdin]``."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser

from webadmin import services

from ._helpers import as_command_error, read_password


class Command(BaseCommand):
    help = "Create a mailbox. The password is asked for, or read from standard input with --password-stdin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("address")
        parser.add_argument("--name", default="", help="Display name.")
        parser.add_argument("--quota", type=int, help="Bytes; default: the domain's default quota.")
        parser.add_argument("--password-stdin", action="store_true", help="Read the password from standard input.")
        parser.add_argument("--no-pop3", action="store_true")
        parser.add_argument("--no-imap", action="store_true")
        parser.add_argument("--no-webmail", action="store_true")
        parser.add_argument("--no-smtp", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        password = read_password(options["password_stdin"])
        try:
            mailbox = services.create_mailbox(
                options["address"], password, name=options["name"], quota=options["quota"],
                can_pop3=not options["no_pop3"], can_imap=not options["no_imap"],
                can_webmail=not options["no_webmail"], can_smtp=not options["no_smtp"],
            )
        except ValidationError as exc:
            raise as_command_error(exc) from exc
        self.stdout.write(f"Created mailbox {mailbox}.")
