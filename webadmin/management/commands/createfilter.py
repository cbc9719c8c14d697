"""``manage.py createfilter ADDRESS --name N --condition "subject contains x" --action "fileinto Lists"``."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.config import canonical_address
from webadmin.models import Filter, Mailbox

from ._helpers import as_command_error


def parse_condition(text: str) -> dict[str, str]:
    """``FIELD OP VALUE``; FIELD is from, to_cc, subject, size or header:NAME."""
    parts = text.split(None, 2)
    if len(parts) != 3:
        raise CommandError(f"Condition “{text}”: write it as FIELD OP VALUE, e.g. “subject contains invoice”.")
    field, op, value = parts
    condition = {"field": field, "op": op, "value": value}
    if field.startswith("header:"):
        condition.update(field="header", header=field.partition(":")[2])
    return condition


def parse_action(text: str, reply_subject: str, reply_days: int) -> dict[str, Any]:
    """``fileinto FOLDER``, ``mark_read``, ``flag``, ``redirect ADDR``, ``forward ADDR``, ``discard``,
    ``autoreply BODY``.

    Unknown kinds pass through so that the model refuses them with its own sentence.
    """
    kind, _, argument = text.strip().partition(" ")
    argument = argument.strip()
    if kind == "fileinto":
        return {"action": kind, "folder": argument}
    if kind in ("redirect", "forward"):
        return {"action": kind, "address": argument}
    if kind == "autoreply":
        return {"action": kind, "subject": reply_subject, "body": argument, "days": reply_days}
    return {"action": kind}


class Command(BaseCommand):
    help = "Add a filter rule to a mailbox (conditions and actions as in the admin)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("address")
        parser.add_argument("--name", required=True)
        parser.add_argument("--condition", action="append", default=[], help="FIELD OP VALUE (repeatable).")
        parser.add_argument("--action", action="append", default=[], help="e.g. “fileinto Lists” (repeatable).")
        parser.add_argument("--any", action="store_true", help="Match when any condition holds (default: all).")
        parser.add_argument("--stop", action="store_true", help="Run no later filters when this one matches.")
        parser.add_argument("--position", type=int)
        parser.add_argument("--reply-subject", default="Auto: out of office")
        parser.add_argument("--reply-days", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        local, _, domain = (canonical_address(options["address"]) or "").rpartition("@")
        mailbox = Mailbox.objects.filter(domain__name=domain, local_part=local).first()
        if mailbox is None:
            raise CommandError(f"There is no mailbox {options['address']}.")
        position = options["position"]
        if position is None:
            position = (mailbox.filters.order_by("-position").values_list("position", flat=True).first() or 0) + 1
        rule = Filter(
            mailbox=mailbox,
            name=options["name"],
            position=position,
            match="any" if options["any"] else "all",
            conditions=[parse_condition(c) for c in options["condition"]],
            actions=[parse_action(a, options["reply_subject"], options["reply_days"]) for a in options["action"]],
            stop=options["stop"],
        )
        try:
            rule.full_clean()
        except ValidationError as exc:
            raise as_command_error(exc) from exc
        rule.save()
        self.stdout.write(f"Added filter “{rule.name}” to {mailbox} at position {position}.")
