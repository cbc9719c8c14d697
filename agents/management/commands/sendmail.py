"""``manage.py sendmail``: the sendmail(8) entry point for local programs and cron.

Reads the message on standard input and submits it through ``agents.queue``
(source "sendmail") after the one submission policy (``agents.queue.submission``:
the rate limit counts per local user, plus recipient and size limits), which
refuses with the reply SMTP gives. Exit codes are sysexits: 0 queued, 64 usage,
65 bad data or too big, 69 refused by policy, 75 temporary failure (try again,
also for a 4xx refusal such as the rate limit). ``bin/sendmail`` runs this with the repo's venv.
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

        from agents.queue import Envelope, new_queue_id, submission

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
        client = submission.Client(source="sendmail", client_name="sendmail",
                                   local_user=user)
        policy = submission.default_policy()
        too_big = policy.message(client, len(data))
        if too_big is not None:
            policy.refused(client, too_big, "DATA", request.sender or "")
            return self._fail(sendmail.EX_DATAERR, f"fatal: {too_big.reply}")
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
            policy.submit(prepared.message, envelope, client, queue_id=queue_id)
        except submission.Refused as exc:
            code = sendmail.EX_TEMPFAIL if exc.reply.startswith("4") else sendmail.EX_UNAVAILABLE
            return self._fail(code, f"fatal: {exc.reply}")
        except Exception as exc:  # spool or database unavailable: the caller should retry later
            return self._fail(sendmail.EX_TEMPFAIL, f"warning: could not queue the message ({exc}); try again later")
        return sendmail.EX_OK
