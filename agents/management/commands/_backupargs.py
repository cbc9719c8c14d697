"""Options shared by ``manage.py backup`` and ``manage.py restore``: how the archive is keyed."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from agents.backup import BackupError, Repository


def add_key_arguments(parser: CommandParser) -> None:
    parser.add_argument("--key-file", help="A file of at least 32 random bytes that keys the archive.")
    parser.add_argument("--passphrase-env",
                        help="Environment variable holding the passphrase (default: the MAILAPP_BACKUP_PASSPHRASE "
                             "setting).")


def open_repository(path: str, options: dict[str, Any], *, create: bool) -> Repository:
    variable = options["passphrase_env"]
    passphrase = os.environ.get(variable) if variable else settings.MAILAPP_BACKUP_PASSPHRASE
    if options["key_file"]:
        passphrase = None
    elif not passphrase:
        raise CommandError(f"set {variable or 'MAILAPP_BACKUP_PASSPHRASE'} or give --key-file to key the archive")
    try:
        return Repository.open(path, passphrase=passphrase, key_file=options["key_file"], create=create)
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
