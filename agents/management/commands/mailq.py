"""``manage.py mailq``: the mail queue, like Postfix's ``postqueue -p``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from agents.delivery.control import listing


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


class Command(BaseCommand):
    help = "List queued messages: id, size, age, sender, recipients and the last error."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="Also list messages that are done.")

    def handle(self, *args: Any, **options: Any) -> None:
        entries = listing(include_done=options["all"])
        if not entries:
            self.stdout.write("Mail queue is empty")
            return
        now = timezone.now()
        self.stdout.write(f"{'-Queue ID-':<22}{'-Size-':>9} {'-Age-':>6} {'-Arrival Time-':<20} -Sender/Recipient-")
        total = 0
        for e in entries:
            mark = {"held": "!", "done": "."}.get(e.state, " ")
            arrival = e.created.strftime("%a %b %d %H:%M:%S")
            age = _age((now - e.created).total_seconds())
            self.stdout.write(f"{e.queue_id + mark:<22}{e.size:>9} {age:>6} {arrival:<20} <{e.sender}>")
            if e.last_error:
                self.stdout.write(f"{'':<22}({e.last_error[:200]})")
            for address, state, error in e.recipients:
                suffix = "" if state in ("pending", "deferred") else f"  [{state}]"
                self.stdout.write(f"{'':<22}{address}{suffix}")
                if error and error != e.last_error and state == "deferred":
                    self.stdout.write(f"{'':<24}({error[:200]})")
            self.stdout.write("")
            total += e.size
        self.stdout.write(f"-- {total // 1024} Kbytes in {len(entries)} Request{'s' if len(entries) != 1 else ''}.")
