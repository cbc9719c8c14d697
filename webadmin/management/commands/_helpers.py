"""Shared bits of the configuration commands: turning ValidationError into CommandError."""

from __future__ import annotations

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError


def as_command_error(exc: ValidationError) -> CommandError:
    """A ValidationError as one readable sentence per problem."""
    if hasattr(exc, "error_dict"):
        parts = [f"{field}: {' '.join(msgs)}" if field != "__all__" else " ".join(msgs)
                 for field, msgs in exc.message_dict.items()]
    else:
        parts = exc.messages
    return CommandError("; ".join(parts))


def read_password(from_stdin: bool, prompt: str = "Password: ") -> str:
    """Read a password from stdin (first line) or ask twice on a terminal."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        password = getpass.getpass(prompt)
        if password != getpass.getpass("Again: "):
            raise CommandError("The passwords differ.")
    if not password:
        raise CommandError("The password is empty.")
    return password
