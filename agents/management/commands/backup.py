"""``manage.py backup DEST``: an encrypted, incremental backup of the running appliance (docs/backup.md)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.backup import BackupError, backup

from ._backupargs import add_key_arguments, open_repository


class Command(BaseCommand):
    help = "Back up the database, queue spool, every mailbox and the keys into the archive directory DEST."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dest", help="Archive directory, or s3://BUCKET/PREFIX (made on first use; later backups "
                                         "are incremental).")
        parser.add_argument("--keep", type=int, default=0,
                            help="After the backup, keep only the newest N backups (and the chunks they use).")
        add_key_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        repo = open_repository(options["dest"], options, create=True)
        started = time.monotonic()
        try:
            result = backup(repo)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Backup {result['name']}: {result['files']} files, {result['mailboxes']} mailboxes, "
                          f"{result['written']} new bytes written in {time.monotonic() - started:.2f} s.")
        if options["keep"]:
            try:
                backups, chunks = repo.prune(options["keep"])
            except BackupError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"Removed {backups} older backup(s) and {chunks} chunk(s) no kept backup uses.")
