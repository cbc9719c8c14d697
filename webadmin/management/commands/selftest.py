"""``manage.py selftest``: send a real message through every hop and report each (docs/dashboard.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from webadmin.dashboard import selftest


class Command(BaseCommand):
    help = "Send a real message through submission, queue, DKIM, delivery, IMAP, POP3, webmail and a bounce."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--domain", help="the domain of the self-test mailbox (default: the first active one)")
        parser.add_argument("--bounce-to", default=None,
                            help="an unknown remote user for the bounce hop (default: MAILAPP_SELFTEST_BOUNCE_TO)")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        report = selftest.run(options["domain"], options["bounce_to"])
        for line in report.lines():
            self.stdout.write(line)
        failed = report.failed
        if failed is not None:
            raise CommandError(f"self-test failed at {failed.name}: {failed.detail}")
        self.stdout.write("self-test passed")
