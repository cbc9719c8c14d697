"""``manage.py sendmail``: the sendmail(8) entry point for local programs and cron.

Reads the message on standard input and submits it through ``agents.queue``
(source "sendmail"). Exit codes are sysexits: 0 queued, 64 usage, 65 bad data,
75 temporary failure (try again). ``bin/sendmail`` runs this with the repo's venv.
Options are parsed by hand (``agents.smtp.sendmail``): sendmail's flags
(``-oi``, ``-fsender``) are not argparse-shaped.
"""

from __future__ import annotations

import getpass
import os
import sys

from django.core.management.base import BaseCommand

from agents.smtp import sendmail


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # start fast: the checks import the whole web stack
    help = "sendmail-compatible: sendmail [-t] [-i] [-f sender] [-F fullname] [recipients…] < message"

    def run_from_argv(self, argv: list[str]) -> None:
        code = self.send(argv[2:], sys.stdin.buffer)
        sys.stdout.flush()
        sys.exit(code)

    def _fail(self, code: int, text: str) -> int:
        sys.stderr.write(f"sendmail: {text}\n")
        return code

    def send(self, args: list[str], stdin) -> int:
        from django.conf import settings

        from agents.queue import Envelope, new_queue_id, submit

        try:
            request = sendmail.parse_args(args)
        except sendmail.UsageError as exc:
            return self._fail(sendmail.EX_USAGE, f"{exc}\nusage: {self.help}")
        hostname = settings.MAILAPP_HOSTNAME
        try:
            user = getpass.getuser()
        except Exception:
            user = f"uid{os.getuid()}"
        if not request.recipients and not request.extract:
            return self._fail(sendmail.EX_USAGE, "fatal: no recipients specified")
        data = stdin.read(settings.MAILAPP_MAX_MESSAGE_SIZE + 1)
        if len(data) > settings.MAILAPP_MAX_MESSAGE_SIZE:
            return self._fail(sendmail.EX_DATAERR, "fatal: message file too big")
        queue_id = new_queue_id()
        try:
            sender = "" if request.sender == "" else sendmail.qualify(request.sender or user, hostname)
            prepared = sendmail.prepare(
                data, request, sender=sender, hostname=hostname, queue_id=queue_id, user=user, uid=os.getuid()
            )
        except sendmail.DataError as exc:
            return self._fail(sendmail.EX_DATAERR, f"fatal: {exc}")
        envelope = Envelope(sender=sender, recipients=prepared.recipients, source="sendmail", auth_user="")
        try:
            submit(prepared.message, envelope, queue_id=queue_id)
        except Exception as exc:  # spool or database unavailable: the caller should retry later
            return self._fail(sendmail.EX_TEMPFAIL, f"warning: could not queue the message ({exc}); try again later")
        return sendmail.EX_OK
