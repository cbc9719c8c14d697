"""Options shared by ``manage.py backup`` and ``manage.py restore``: how the archive is keyed."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from agents.backup import BackupError, Repository, S3Location, S3Target


def add_key_arguments(parser: CommandParser) -> None:
    parser.add_argument("--key-file", help="A file of at least 32 random bytes that keys the archive.")
    parser.add_argument("--s3-endpoint", default="",
                        help="For an s3://BUCKET/PREFIX archive: the S3-compatible store's URL (default: AWS). "
                             "Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.")
    parser.add_argument("--s3-region", default="", help="The bucket's region, if the store needs one.")
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
    where: str | S3Target = path
    if path.startswith("s3://"):
        bucket, _, prefix = path[len("s3://"):].partition("/")
        if not bucket:
            raise CommandError("an S3 archive is named s3://BUCKET/PREFIX")
        location = S3Location(bucket=bucket, prefix=prefix, endpoint=options.get("s3_endpoint") or "",
                              region=options.get("s3_region") or "")
        where = S3Target(location, settings.MAILAPP_RUN_DIR)
    try:
        return Repository.open(where, passphrase=passphrase, key_file=options["key_file"], create=create)
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
