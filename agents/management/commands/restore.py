"""``manage.py restore SRC``: the whole appliance, one domain or one mailbox from a backup (docs/backup.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.backup import BackupError, restore

from ._backupargs import add_key_arguments, open_repository


class Command(BaseCommand):
    help = "Restore from the archive directory SRC: everything, or only --domain or --mailbox."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("src", help="Archive directory or s3://BUCKET/PREFIX written by manage.py backup.")
        parser.add_argument("--backup", help="Which backup (default: the latest).")
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--domain", help="Restore only this domain's mailboxes.")
        scope.add_argument("--mailbox", help="Restore only this mailbox (an address).")
        add_key_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        repo = open_repository(options["src"], options, create=False)
        try:
            result = restore(repo, name=options["backup"], domain=options["domain"], mailbox=options["mailbox"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Restored backup {result['name']}: {result['mailboxes']} mailbox(es).")
        for address, where in result["replaced"].items():
            self.stdout.write(f"  {address}: the mailbox it replaced was kept in {where}")
