"""``manage.py importmail SOURCE ADDRESS``: load an mbox file or a Maildir (with subfolders) into a mailbox.

A migration, not a delivery: the mailbox's filters, forwards and auto-replies do not run.
Flags and dates are kept. Interrupted? Run it again: it resumes where it stopped and
never stores a message twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO, cast

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from agents import config
from agents.cluster.placement import served_elsewhere
from agents.fetch import importer, sources
from agents.models import ImportProgress
from agents.store import default_store
from agents.store.errors import InvalidFolderName


class Command(BaseCommand):
    help = "Import an mbox file or a Maildir (incl. .Sent etc.) into a mailbox, keeping flags and dates."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("source", help="an mbox file (e.g. /var/mail/USER) or a Maildir directory")
        parser.add_argument("address", help="the mailbox to import into")
        parser.add_argument("--folder", default="INBOX", help="target folder for an mbox (default INBOX)")
        parser.add_argument("--restart", action="store_true", help="forget earlier progress (still no duplicates)")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        path = Path(options["source"]).expanduser().resolve()
        address = config.canonical_address(options["address"])
        if address is None or config.get_mailbox(address) is None:
            raise CommandError(f"{options['address']} is not a mailbox here; create it first.")
        elsewhere = served_elsewhere(address)
        if elsewhere:  # cluster mode: the store on this node's disk is not the mailbox's
            raise CommandError(f"{elsewhere} and run importmail on that node.")
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        box = default_store().mailbox(address)
        plan: list[tuple[str, Path, int, Callable[[Path, int], Iterator[sources.Item]]]]
        if path.is_dir():
            jobs = sources.maildir_folders(path)
            if not jobs:
                raise CommandError(f"{path} is not a Maildir (no cur/ or new/ and no .Folder subdirectories).")
            plan = [(name, folder, len(sources.maildir_files(folder)), sources.maildir_items) for name, folder in jobs]
        else:
            try:
                if not sources.looks_like_mbox(path):
                    raise CommandError(f"{path} is not an mbox file (it does not start with a 'From ' line).")
                total = sources.mbox_count(path)
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from exc
            plan = [(str(options["folder"]), path, total, sources.mbox_items)]
        stream = cast(TextIO, self.stderr._out)  # the real stream: a TTY gets a live bar
        grand = importer.Outcome()
        for folder_name, folder_path, total, reader in plan:
            record, _ = ImportProgress.objects.get_or_create(source=str(folder_path), address=address)
            start = 0 if options["restart"] else min(record.done, total)
            record.total = total
            record.save(update_fields=["total"])

            def checkpoint(done: int, record: ImportProgress = record) -> None:
                record.done, record.updated = done, timezone.now()
                record.finished = done >= record.total
                record.save(update_fields=["done", "updated", "finished"])

            try:
                drop = importer.MaildirDrop(box, folder_name, str(folder_path))
            except InvalidFolderName as exc:
                raise CommandError(f"folder {folder_name!r} cannot be made: {exc}") from exc
            progress = importer.Progress(stream, f"{folder_name}:", total)
            if start:
                stream.write(f"{folder_name}: resuming after message {start} of {total}\n")
            result = importer.run(reader(folder_path, start), drop, progress, start=start, checkpoint=checkpoint)
            grand.stored += result.stored
            grand.present += result.present
        self.stdout.write(f"Imported {grand.stored} messages into {address} "
                          f"({grand.present} were already there); filters were not run.")
