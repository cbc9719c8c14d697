"""``manage.py queuectl hold|release|delete|retry ID…``: act on queued messages (like ``postsuper``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.delivery import control
from agents.models import QueueMessage

ACTIONS: dict[str, Callable[..., list[str]]] = {
    "hold": control.hold, "release": control.release, "delete": control.delete, "retry": control.retry,
}


def _operator() -> str:
    """The Unix user running the command, for the audit record."""
    import getpass
    import os

    try:
        return getpass.getuser()
    except Exception:
        return f"uid{os.getuid()}"


class Command(BaseCommand):
    help = "Hold, release, delete or retry queued messages by queue id (ALL for every message)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=sorted(ACTIONS))
        parser.add_argument("queue_ids", nargs="+", metavar="ID", help="Queue ids as mailq shows them, or ALL.")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = [q.strip().rstrip("!.") for q in options["queue_ids"]]
        if wanted == ["ALL"]:
            wanted = list(QueueMessage.objects.exclude(state=QueueMessage.DONE).values_list("queue_id", flat=True))
        else:
            known = set(QueueMessage.objects.filter(queue_id__in=wanted).values_list("queue_id", flat=True))
            missing = [q for q in wanted if q not in known]
            if missing:
                raise CommandError(f"No such queued message: {', '.join(missing)}. Run `manage.py mailq` for the ids.")
        done = ACTIONS[options["action"]](wanted, who=_operator(), via="cli")
        verb = {"hold": "held", "release": "released", "delete": "deleted", "retry": "queued for retry"}
        skipped = [q for q in wanted if q not in done]
        self.stdout.write(f"{len(done)} message(s) {verb[options['action']]}.")
        if skipped:
            self.stdout.write(f"Not in a state for {options['action']}: {', '.join(skipped)}")
