"""The rule builder's Sieve script: where a mailbox's ``Filter`` rows and its scripts meet.

What runs at delivery is the mailbox's active :class:`~webadmin.models.SieveScript` and
nothing else. The builder's rules live in one script, named
``mailcore.sieve_rules.SCRIPT_NAME`` and written by ``compile_rules``; the ``Filter``
rows are that script's editable index (the builder, the API, the admin and the
vacation/forwarding settings edit rows). The two are kept as one:

- rows → script: every saved or deleted row rewrites the builder's script from the rows
  (made on the first rule, active if no other script is; removed with the last rule),
  but only while that script is still the builder's own (``is_generated``). A script
  written by hand under that name is never overwritten: ``Filter.clean`` refuses the
  change with :func:`refusal`, and the pages say why;
- script → rows: a builder-made script stored from outside (ManageSieve ``PUTSCRIPT`` of
  a downloaded copy, the plain editor) replaces the rows with the rules it holds;
  deleting the builder's script deletes its rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import transaction

from mailcore import sieve as ms
from mailcore import sieve_rules

from .models import Filter, SieveScript

SCRIPT_NAME = sieve_rules.SCRIPT_NAME

_state = threading.local()  # set while this module writes, so its own writes do not echo back


@contextmanager
def _writing() -> Iterator[None]:
    _state.busy = True
    try:
        yield
    finally:
        _state.busy = False


def _busy() -> bool:
    return bool(getattr(_state, "busy", False))


def builder_script(mailbox_id: int) -> SieveScript | None:
    return SieveScript.objects.filter(mailbox_id=mailbox_id, name=SCRIPT_NAME).first()


def is_builder_made(script: SieveScript) -> bool:
    return script.name == SCRIPT_NAME and sieve_rules.is_generated(script.script)


def hand_written(mailbox_id: int) -> SieveScript | None:
    """The script under the builder's name when it was written by hand (the builder then keeps off it)."""
    script = builder_script(mailbox_id)
    return script if script is not None and not sieve_rules.is_generated(script.script) else None


def status(mailbox_id: int) -> dict[str, Any]:
    """Where the builder's rules stand, for the pages: ``state`` is one of

    ``"running"`` (the builder's script is the active one), ``"inactive"`` (another script,
    ``active``, runs instead), ``"off"`` (no script is active), ``"hand"`` (a hand-written
    script holds the builder's name) or ``"none"`` (no rules yet).
    """
    script = builder_script(mailbox_id)
    active = SieveScript.objects.filter(mailbox_id=mailbox_id, active=True).values_list("name", flat=True).first()
    if script is None:
        state = "none"
    elif not sieve_rules.is_generated(script.script):
        state = "hand"
    elif script.active:
        state = "running"
    else:
        state = "inactive" if active else "off"
    return {"state": state, "name": SCRIPT_NAME, "active": active or ""}


def scripts_of(mailbox_id: int) -> list[dict[str, Any]]:
    """Every script of the mailbox for the pages: name, active, and whether the builder made it."""
    return [{"name": name, "active": active, "builder": name == SCRIPT_NAME and sieve_rules.is_generated(text)}
            for name, active, text in SieveScript.objects.filter(mailbox_id=mailbox_id).order_by("name")
            .values_list("name", "active", "script")]


def not_running_note(mailbox_id: int) -> str:
    """After a rule, vacation or forwarding change: why it will not run, if it will not ("" if it runs)."""
    found = status(mailbox_id)
    if found["state"] == "inactive":
        return f"The script “{found['active']}” is the active one, so the filters do not run."
    if found["state"] == "off":
        return f"No script is active: activate “{SCRIPT_NAME}” under Sieve scripts for the filters to run."
    return ""


def _rows(mailbox_id: int) -> list[Filter]:
    return list(Filter.objects.filter(mailbox_id=mailbox_id).order_by("position", "id"))


def hand_written_note(mailbox_id: int) -> str:
    """The sentence the filter editors show while the builder's script is hand-written ("" otherwise)."""
    if hand_written(mailbox_id) is None:
        return ""
    return (f"The script “{SCRIPT_NAME}” was written by hand (in the script editor or a ManageSieve client), "
            "so the rule builder will not overwrite it. Edit it as a script, or rename or delete it to use "
            "the rule builder again.")


def refusal(rule: Filter) -> str | None:
    """Why saving ``rule`` could not reach the builder's script (a sentence), or None."""
    if not rule.mailbox_id:
        return None
    note = hand_written_note(rule.mailbox_id)
    if note:
        return note
    rows = [r for r in _rows(rule.mailbox_id) if r.pk != rule.pk] + [rule]
    rows.sort(key=lambda r: (r.position, r.pk or 1 << 62))
    size = len(sieve_rules.compile_rules(rows).encode("utf-8"))
    if size > ms.MAX_SCRIPT:
        return f"These rules make a script of {size} bytes; a script holds at most {ms.MAX_SCRIPT}. Remove some."
    if builder_script(rule.mailbox_id) is None and \
            SieveScript.objects.filter(mailbox_id=rule.mailbox_id).count() >= SieveScript.MAX_SCRIPTS:
        return (f"The rules need a script of their own, but this mailbox already holds {SieveScript.MAX_SCRIPTS} "
                "scripts. Delete one first.")
    return None


def rows_changed(mailbox_id: int) -> None:
    """Rewrite the builder's script from the rows (never a hand-written one)."""
    if _busy():
        return
    rows = _rows(mailbox_id)
    text = sieve_rules.compile_rules(rows)
    with transaction.atomic(), _writing():
        script = builder_script(mailbox_id)
        if script is None:
            if rows:
                active = not SieveScript.objects.filter(mailbox_id=mailbox_id, active=True).exists()
                SieveScript(mailbox_id=mailbox_id, name=SCRIPT_NAME, script=text, active=active).save()
        elif script.script == text or not sieve_rules.is_generated(script.script):
            return
        elif not rows:
            script.delete()
        else:
            script.script = text
            script.save(update_fields=["script"])


def script_saved(script: SieveScript) -> None:
    """A builder-made script stored under the builder's name from outside: its rules become the rows."""
    if _busy() or script.name != SCRIPT_NAME:
        return
    found = sieve_rules.read_rules(script.script)
    if found is None or sieve_rules.compile_rules(_rows(script.mailbox_id)) == script.script:
        return
    with transaction.atomic(), _writing():
        Filter.objects.filter(mailbox_id=script.mailbox_id).delete()
        Filter.objects.bulk_create([_row(script.mailbox_id, number, row) for number, row in enumerate(found)])


def script_deleted(script: SieveScript) -> None:
    """The builder's script deleted: its rules go with it (they ran nowhere else)."""
    if _busy() or not is_builder_made(script):
        return
    with transaction.atomic(), _writing():
        Filter.objects.filter(mailbox_id=script.mailbox_id).delete()


def _row(mailbox_id: int, number: int, row: dict[str, Any]) -> Filter:
    return Filter(mailbox_id=mailbox_id, name=str(row.get("name", ""))[:100], position=(number + 1) * 10,
                  active=row.get("active", True) is not False, match="any" if row.get("match") == "any" else "all",
                  conditions=_list(row.get("conditions")), actions=_list(row.get("actions")),
                  stop=bool(row.get("stop")))


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else []
