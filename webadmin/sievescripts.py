"""A mailbox's Sieve scripts: list, read, check, store, activate, rename, delete — for every face.

The one implementation behind ManageSieve (``agents.config.sieve`` maps an address to a
mailbox and calls these), the webmail's and the dashboard's script pages. Storing goes
through ``SieveScript.full_clean()``, so every door applies the same checks: at most
``mailcore.sieve.MAX_SCRIPT`` bytes, ``SieveScript.MAX_SCRIPTS`` scripts, a script that
parses, requires only extensions we run, and includes nothing in a loop. A refusal is a
:class:`ScriptError` with a sentence, the line when there is one, and a ManageSieve
response code (``QUOTA/MAXSCRIPTS``, ``QUOTA/MAXSIZE``, ``NONEXISTENT``, ``ALREADYEXISTS``,
``ACTIVE``) or ``""``.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from mailcore import sieve as ms

from .models import SieveScript


class ScriptError(Exception):
    """A refusal: ``text``, a ManageSieve ``code``, the script's ``line`` (0: none) and the form ``field``."""

    def __init__(self, text: str, code: str = "", line: int = 0, field: str = "script") -> None:
        super().__init__(text)
        self.text, self.code, self.line, self.field = text, code, line, field

    @property
    def reason(self) -> str:
        """The text without its ``line N:`` prefix (the pages show the line apart)."""
        return _LINE.sub("", self.text, count=1)


_LINE = re.compile(r"^line (\d+): ")


def _refused(text: str, code: str = "") -> ScriptError:
    found = _LINE.match(text)
    return ScriptError(text, code, int(found.group(1)) if found else 0)


def list_scripts(mailbox_id: int) -> list[tuple[str, bool]]:
    """(name, active) of every script, by name."""
    return list(SieveScript.objects.filter(mailbox_id=mailbox_id).order_by("name").values_list("name", "active"))


def get_script(mailbox_id: int, name: str) -> str:
    row = SieveScript.objects.filter(mailbox_id=mailbox_id, name=name).first()
    if row is None:
        raise ScriptError("there is no script by that name", "NONEXISTENT")
    return str(row.script)


def _others(mailbox_id: int, name: str) -> dict[str, str]:
    return dict(SieveScript.objects.filter(mailbox_id=mailbox_id).exclude(name=name).values_list("name", "script"))


def check_script(mailbox_id: int, text: str, name: str = "") -> None:
    """Raise :class:`ScriptError` with the line and reason unless ``text`` would be stored (CHECKSCRIPT)."""
    try:
        ms.check(text, name, _others(mailbox_id, name).get if name else None)
    except ms.SieveError as exc:
        raise ScriptError(str(exc), "QUOTA/MAXSIZE" if "too large" in exc.reason else "", exc.line) from None


def have_space(mailbox_id: int, name: str, size: int) -> None:
    """Raise :class:`ScriptError` (a QUOTA code) unless a script ``name`` of ``size`` bytes would fit."""
    if size > ms.MAX_SCRIPT:
        raise ScriptError(f"a script holds at most {ms.MAX_SCRIPT} bytes", "QUOTA/MAXSIZE")
    names = [n for n, _ in list_scripts(mailbox_id)]
    if name not in names and len(names) >= SieveScript.MAX_SCRIPTS:
        raise ScriptError(f"a mailbox holds at most {SieveScript.MAX_SCRIPTS} scripts", "QUOTA/MAXSCRIPTS")


def put_script(mailbox_id: int, name: str, text: str) -> SieveScript:
    """Store (create or replace) script ``name``; checked first, quotas included (PUTSCRIPT)."""
    have_space(mailbox_id, name, len(text.encode("utf-8")))
    row = SieveScript.objects.filter(mailbox_id=mailbox_id, name=name).first() or \
        SieveScript(mailbox_id=mailbox_id, name=name)
    row.script = text
    _save(row)
    return row


def _save(row: SieveScript) -> None:
    try:
        row.full_clean(validate_constraints=False)
    except ValidationError as exc:
        messages = exc.message_dict
        text = "; ".join(m for field in ("script", "name") for m in messages.get(field, [])) or str(exc)
        refused = _refused(text, "QUOTA/MAXSCRIPTS" if "at most" in text and "scripts" in text else "")
        refused.field = "script" if messages.get("script") else "name"
        raise refused from None
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise ScriptError("a script by that name exists", "ALREADYEXISTS", field="name") from None


def set_active(mailbox_id: int, name: str) -> None:
    """Make ``name`` the active script; ``""`` leaves none active (SETACTIVE)."""
    with transaction.atomic():
        if name and not SieveScript.objects.filter(mailbox_id=mailbox_id, name=name).exists():
            raise ScriptError("there is no script by that name", "NONEXISTENT")
        SieveScript.objects.filter(mailbox_id=mailbox_id, active=True).exclude(name=name).update(active=False)
        if name:
            SieveScript.objects.filter(mailbox_id=mailbox_id, name=name).update(active=True)
    from .models import ConfigGeneration  # update() sends no signal: tell the agents ourselves

    ConfigGeneration.bump()
    transaction.on_commit(ConfigGeneration.bump)


def delete_script(mailbox_id: int, name: str) -> None:
    """Delete script ``name``; the active one is refused (DELETESCRIPT: deactivate it first)."""
    row = SieveScript.objects.filter(mailbox_id=mailbox_id, name=name).first()
    if row is None:
        raise ScriptError("there is no script by that name", "NONEXISTENT")
    if row.active:
        raise ScriptError("the active script cannot be deleted", "ACTIVE")
    row.delete()


def rename_script(mailbox_id: int, old: str, new: str) -> None:
    row = SieveScript.objects.filter(mailbox_id=mailbox_id, name=old).first()
    if row is None:
        raise ScriptError("there is no script by that name", "NONEXISTENT")
    if old != new and SieveScript.objects.filter(mailbox_id=mailbox_id, name=new).exists():
        raise ScriptError("a script by that name exists", "ALREADYEXISTS", field="name")
    row.name = new
    _save(row)


def save_edit(mailbox_id: int, original: str, name: str, text: str) -> SieveScript:
    """The plain editor's save (webmail, dashboard): a new script, or ``original`` renamed and rewritten.

    Both steps or neither: a refused script leaves the old name and text in place.
    """
    name = name.strip()
    if not name:
        raise ScriptError("Give the script a name.", field="name")
    with transaction.atomic():
        if original:
            get_script(mailbox_id, original)  # NONEXISTENT for a name that is not this mailbox's
            if original != name:
                rename_script(mailbox_id, original, name)
        elif SieveScript.objects.filter(mailbox_id=mailbox_id, name=name).exists():
            raise ScriptError("a script by that name exists", "ALREADYEXISTS", field="name")
        return put_script(mailbox_id, name, text)
