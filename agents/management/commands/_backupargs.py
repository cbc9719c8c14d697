"""Options shared by ``manage.py backup`` and ``manage.py restore``: how the archive is keyed."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import CommandError, CommandParser

from agents.backup import BackupError, Repository


def add_key_arguments(parser: CommandParser) -> None:
    parser.add_argument("--key-file", help="A file of at least 32 random bytes that keys the archive.")
    parser.add_argument("--passphrase-env", default="MAILAPP_BACKUP_PASSPHRASE",
                        help="Environment variable holding the passphrase (default MAILAPP_BACKUP_PASSPHRASE).")


def open_repository(path: str, options: dict[str, Any], *, create: bool) -> Repository:
    passphrase = None if options["key_file"] else os.environ.get(options["passphrase_env"])
    if not options["key_file"] and not passphrase:
        raise CommandError(f"set {options['passphrase_env']} or give --key-file to key the archive")
    try:
        return Repository.open(path, passphrase=passphrase, key_file=options["key_file"], create=create)
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
