"""The one filter rule builder: the form rows webmail and the dashboard both show, and saving them.

A rule is a ``webadmin.models.Filter`` row of one mailbox. The editor shows a few
condition rows and action rows (``templates/rules/_builder.html``); this module
turns the posted fields into the model's conditions and actions and saves through
``full_clean()``, so ``Filter.clean()`` decides what is valid for every face (the
user's webmail, the staff dashboard, the API). A vacation is an ``autoreply``
filter with no conditions, forwarding a ``forward``/``redirect`` filter with none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from mailcore.headersafe import is_unsafe

from .models import Filter

VACATION_NAME = "Vacation auto-reply"
FORWARDING_NAME = "Forwarding"
CONDITION_ROWS = 3
ACTION_ROWS = 3

# What people read in the menus; the values stay the model's names.
FIELD_LABELS = Filter.FIELD_LABELS
OP_LABELS = Filter.OP_LABELS
ACTION_LABELS = Filter.ACTION_LABELS


class RuleError(ValueError):
    """A rule was refused; the message says why, in sentences."""


def error_text(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return " ".join(f"{msg}" for msgs in exc.message_dict.values() for msg in msgs)
    return " ".join(exc.messages)


def builder_context() -> dict[str, Any]:
    """What ``rules/_builder.html`` needs besides the form: the menus as (value, label)."""
    return {
        "fields": [(f, FIELD_LABELS.get(f, f)) for f in Filter.FIELDS],
        "ops": [(o, OP_LABELS.get(o, o)) for o in Filter.OPS],
        "kinds": [(a, ACTION_LABELS.get(a, a)) for a in Filter.ACTIONS],
    }


def describe(rule: Filter) -> tuple[str, str]:
    """A rule in words: (when, then), for lists (no JSON for people)."""
    joiner = " and " if rule.match == "all" else " or "
    when = joiner.join(
        f"{FIELD_LABELS.get(c.get('field'), c.get('field'))}"
        f"{' ' + str(c['header']) if c.get('field') == 'header' and c.get('header') else ''}"
        f" {OP_LABELS.get(c.get('op', 'contains'), c.get('op'))} “{c.get('value', '')}”"
        for c in rule.conditions
    ) or "every message"
    parts = []
    for act in rule.actions:
        label = ACTION_LABELS.get(act.get("action"), act.get("action"))
        argument = act.get("folder") or act.get("address") or act.get("subject") or ""
        if act.get("action") == "autoreply" and (act.get("start") or act.get("end")):
            argument = f"{argument} ({vacation_dates(act)})".strip()
        parts.append(f"{label} {argument}".strip())
    return when, ", ".join(parts)


def vacation_dates(act: dict[str, Any]) -> str:
    """The days an auto-reply answers, in words: "from 2026-07-01 to 2026-07-21"."""
    words = []
    if act.get("start"):
        words.append(f"from {act['start']}")
    if act.get("end"):
        words.append(f"to {act['end']}" if act.get("start") else f"until {act['end']}")
    return " ".join(words)


def filters_of(mailbox_id: int) -> list[Filter]:
    return list(Filter.objects.filter(mailbox_id=mailbox_id).order_by("position", "id"))


def own_filter(mailbox_id: int, pk: int) -> Filter:
    """The filter ``pk`` of this mailbox; Filter.DoesNotExist for anyone else's."""
    return Filter.objects.get(pk=pk, mailbox_id=mailbox_id)


@dataclass
class FilterForm:
    """The filter editor's rows, as plain values the template fills in."""

    name: str = ""
    active: bool = True
    match: str = "all"
    stop: bool = False
    conditions: list[dict[str, Any]] | None = None
    actions: list[dict[str, Any]] | None = None

    @classmethod
    def from_filter(cls, rule: Filter | None) -> FilterForm:
        if rule is None:
            return cls(conditions=_pad([], CONDITION_ROWS), actions=_pad([], ACTION_ROWS))
        return cls(
            rule.name,
            rule.active,
            rule.match,
            rule.stop,
            _pad(list(rule.conditions), CONDITION_ROWS),
            _pad(list(rule.actions), ACTION_ROWS),
        )

    @classmethod
    def from_post(cls, post: Any) -> FilterForm:
        """The editor as the user left it (shown again with the error)."""
        form = cls(
            name=str(post.get("name", "")),
            active=bool(post.get("active")),
            match="any" if post.get("match") == "any" else "all",
            stop=bool(post.get("stop")),
        )
        form.conditions = [
            {"field": post.get(f"cond{i}_field", ""), "op": post.get(f"cond{i}_op", ""),
             "header": post.get(f"cond{i}_header", ""), "value": post.get(f"cond{i}_value", "")}
            for i in range(CONDITION_ROWS)
        ]  # fmt: skip
        form.actions = []
        for i in range(ACTION_ROWS):
            kind = post.get(f"act{i}_action", "")
            arg = post.get(f"act{i}_arg", "")
            form.actions.append(
                {"action": kind, "folder": arg, "address": arg, "subject": arg,
                 "body": post.get(f"act{i}_body", ""), "days": post.get(f"act{i}_days", ""),
                 "start": post.get(f"act{i}_start", ""), "end": post.get(f"act{i}_end", "")}
            )  # fmt: skip
        return form


def _pad(rows: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    return rows + [{} for _ in range(max(0, count - len(rows)))]


def _conditions_from(post: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(CONDITION_ROWS):
        field = str(post.get(f"cond{i}_field", "")).strip()
        value = str(post.get(f"cond{i}_value", "")).strip()
        if not field or (not value and field != "size"):
            continue
        cond: dict[str, Any] = {"field": field, "op": str(post.get(f"cond{i}_op", "contains")), "value": value}
        if field == "header":
            cond["header"] = str(post.get(f"cond{i}_header", "")).strip()
        out.append(cond)
    return out


def _actions_from(post: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(ACTION_ROWS):
        kind = str(post.get(f"act{i}_action", "")).strip()
        if not kind:
            continue
        act: dict[str, Any] = {"action": kind}
        argument = str(post.get(f"act{i}_arg", "")).strip()
        if kind == "fileinto":
            act["folder"] = argument
        elif kind in ("redirect", "forward"):
            act["address"] = argument
        elif kind == "autoreply":
            act["subject"] = argument
            act["body"] = str(post.get(f"act{i}_body", ""))
            act["days"] = _int(post.get(f"act{i}_days"), 7)
            for key in ("start", "end"):
                day = str(post.get(f"act{i}_{key}", "")).strip()
                if day:
                    act[key] = day[:20]
        out.append(act)
    return out


def _int(value: Any, default: int) -> int | Any:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return value if value not in (None, "") else default


def save_filter(mailbox_id: int, post: Any, pk: int | None = None) -> Filter:
    """Create or change one of this mailbox's filters from the editor's fields (raises RuleError)."""
    if pk is not None:
        rule = own_filter(mailbox_id, pk)
    else:
        rule = Filter(mailbox_id=mailbox_id, position=_next_position(mailbox_id))
    rule.name = str(post.get("name", "")).strip()[:100]
    rule.active = bool(post.get("active"))
    rule.match = "any" if post.get("match") == "any" else "all"
    rule.stop = bool(post.get("stop"))
    rule.conditions = _conditions_from(post)
    rule.actions = _actions_from(post)
    _validate_and_save(rule)
    return rule


def _check_header_safe(rule: Filter) -> None:
    """Auto-reply subjects and forward addresses end up in headers: refuse line breaks and
    other control characters outright, raw or inside an encoded word (mailcore.headersafe)."""
    for number, act in enumerate(rule.actions, 1):
        for key in ("subject", "address", "folder"):
            value = act.get(key)
            if isinstance(value, str) and is_unsafe(value):
                raise RuleError(f"Action {number}: the {key} may not contain line breaks.")


def _validate_and_save(rule: Filter) -> None:
    _check_header_safe(rule)
    try:
        rule.full_clean()
    except ValidationError as exc:
        raise RuleError(error_text(exc)) from exc
    rule.save()


def _next_position(mailbox_id: int) -> int:
    top = Filter.objects.filter(mailbox_id=mailbox_id).aggregate(m=Max("position"))["m"]
    return 10 if top is None else top + 10


def delete_filter(mailbox_id: int, pk: int) -> None:
    own_filter(mailbox_id, pk).delete()


# --- vacation and forwarding --------------------------------------------------------------


def _named(mailbox_id: int, name: str) -> Filter | None:
    return Filter.objects.filter(mailbox_id=mailbox_id, name=name).order_by("id").first()


def vacation_of(mailbox_id: int) -> dict[str, Any]:
    rule = _named(mailbox_id, VACATION_NAME)
    act: dict[str, Any] = next((a for a in (rule.actions if rule else []) if a.get("action") == "autoreply"), {})
    return {
        "active": bool(rule and rule.active),
        "subject": act.get("subject", "Out of office"),
        "body": act.get("body", ""),
        "days": act.get("days", 7),
        "start": act.get("start", ""),
        "end": act.get("end", ""),
    }


def set_vacation(mailbox_id: int, active: bool, subject: str, body: str, days: Any, start: str = "",
                 end: str = "") -> None:
    """Turn the vacation auto-reply on or off (an autoreply filter run before the others).

    ``start``/``end`` (``YYYY-MM-DD``, optional, both days included) limit the days on
    which it answers; ``Filter.clean`` checks them and delivery honours them.
    """
    with transaction.atomic():
        rule = _named(mailbox_id, VACATION_NAME) or Filter(mailbox_id=mailbox_id, name=VACATION_NAME, position=0)
        rule.active = active
        rule.conditions = []
        act: dict[str, Any] = {"action": "autoreply", "subject": subject.strip()[:200], "body": body,
                               "days": _int(days, 7)}  # fmt: skip
        for key, value in (("start", start), ("end", end)):
            if str(value or "").strip():
                act[key] = str(value).strip()[:20]
        rule.actions = [act]
        if not active and not body.strip():
            if rule.pk:
                rule.save(update_fields=["active"])
            return
        _validate_and_save(rule)


def forwarding_of(mailbox_id: int) -> dict[str, Any]:
    rule = _named(mailbox_id, FORWARDING_NAME)
    actions = rule.actions if rule else []
    act: dict[str, Any] = next((a for a in actions if a.get("action") in ("forward", "redirect")), {})
    return {
        "active": bool(rule and rule.active),
        "address": act.get("address", ""),
        "keep": act.get("action", "forward") == "forward",
    }


def set_forwarding(mailbox_id: int, active: bool, address: str, keep: bool) -> None:
    """Forward every message to ``address`` (keeping a copy) or redirect it (no copy)."""
    with transaction.atomic():
        rule = _named(mailbox_id, FORWARDING_NAME) or Filter(mailbox_id=mailbox_id, name=FORWARDING_NAME, position=1)
        rule.active = active
        rule.conditions = []
        rule.actions = [{"action": "forward" if keep else "redirect", "address": address.strip()}]
        if not active and not address.strip():
            if rule.pk:
                rule.save(update_fields=["active"])
            return
        _validate_and_save(rule)
