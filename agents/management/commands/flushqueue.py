"""``manage.py flushqueue``: try every queued message now (like ``postqueue -f``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from agents.delivery import control, runner


class Command(BaseCommand):
    help = "Retry every active queued message now (held messages stay held)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--here", action="store_true",
                            help="Deliver in this process instead of handing the messages to the Celery workers.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["here"]:
            control.retry(who="flushqueue", enqueue=False)
            results = runner.run_due()
            for queue_id, result in results.items():
                self.stdout.write(f"{queue_id}: {result}")
            self.stdout.write(f"Ran {len(results)} message(s).")
            return
        ids = control.retry(who="flushqueue")
        self.stdout.write(f"Queued {len(ids)} message(s) for delivery now.")
