"""``manage.py movemailbox ADDRESS NODE``: move a mailbox to another node (cluster mode).

Runs from any node. The target node's worker copies the mailbox from its home node while it is
in use, freezes it (sessions end, deliveries wait), copies the rest, verifies, switches the home
node, and the old node retires its copy (docs/scaling.md, ``agents.cluster.move``). The command
waits for the switch unless told not to, and prints the move's end state.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from agents.cluster import move
from agents.models import MailboxMove


class Command(BaseCommand):
    help = "Move a mailbox to another node, keeping its UIDs (cluster mode)."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("address", help="the mailbox to move")
        parser.add_argument("node", help="the node (MAILAPP_NODE) to move it to; it must be running")
        parser.add_argument("--no-wait", action="store_true", help="start the move and return at once")
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the switch (3600)")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        try:
            started = move.start(options["address"], options["node"])
        except move.MoveRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"move {started.pk}: {started.address} from node {started.source} to node "
                          f"{started.target} started")
        if options["no_wait"]:
            return
        ended = move.wait(started.pk, options["timeout"])
        if ended.state == MailboxMove.FAILED:
            raise CommandError(f"move {ended.pk} failed: {ended.note}")
        if ended.state not in (MailboxMove.SWITCHED, MailboxMove.DONE):
            raise CommandError(f"move {ended.pk} is still {ended.state} after {options['timeout']:.0f} s "
                               f"({ended.note}); it goes on in the target node's worker")
        self.stdout.write(self.style.SUCCESS(
            f"{ended.address} is now homed on node {ended.target} ({ended.messages} messages, {ended.bytes} bytes)"))
