"""``manage.py reindex [ADDRESS ...]``: rebuild the full-text search index of mailboxes from their files.

Without an address, every mailbox under the mail root. Delivery keeps the index current,
and a search indexes old messages lazily, so this is needed only after restoring mail
files by hand, or to index a large old mailbox ahead of its first search.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from agents.store import default_store
from agents.store.errors import InvalidAddress, StoreError
from agents.store.index import INDEX_NAME


class Command(BaseCommand):
    help = "Rebuild the full-text search index of one mailbox, or of every mailbox."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("address", nargs="*", help="mailbox address (default: every mailbox)")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        store = default_store()
        addresses: list[str] = list(options["address"])
        if not addresses:
            addresses = sorted(f"{index.parent.name}@{index.parent.parent.name}"
                               for index in store.root.glob(f"*/*/{INDEX_NAME}"))  # fmt: skip
        for address in addresses:
            try:
                path = store.path_for(address)
            except InvalidAddress as exc:
                raise CommandError(str(exc)) from exc
            if not (path / INDEX_NAME).exists():
                raise CommandError(f"{address} has no mailbox in {store.root} (nothing delivered yet?).")
            started = time.perf_counter()
            box = store.mailbox(address)
            total = 0
            for info in box.list_folders():
                try:
                    total += box.folder(info.name).reindex_text()
                except StoreError as exc:
                    self.stderr.write(f"{address} {info.name}: {exc}")
            took = time.perf_counter() - started
            self.stdout.write(f"{address}: {total} messages indexed in {took:.1f} s")
