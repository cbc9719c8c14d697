"""A mailbox's Sieve scripts for ManageSieve: list, read, store, check, activate, rename, delete.

The engine's one door to ``webadmin.models.SieveScript`` (layer rule: the engine reads and
writes the configuration only through ``agents.config``). Blocking (database): the
ManageSieve session calls these in a worker thread. Refusals are :class:`ScriptRefused`
with a ManageSieve response code (``QUOTA/MAXSCRIPTS``, ``QUOTA/MAXSIZE``, ``NONEXISTENT``,
``ALREADYEXISTS``, ``ACTIVE``) or none (a script that does not check, with its line).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from mailcore import sieve as ms


class ScriptRefused(Exception):
    def __init__(self, text: str, code: str = "") -> None:
        super().__init__(text)
        self.text, self.code = text, code


def _mailbox_id(address: str) -> int:
    from . import get_mailbox

    info = get_mailbox(address)
    if info is None:
        raise ScriptRefused("no such mailbox", "NONEXISTENT")
    return info.id


def _model():
    from webadmin.models import SieveScript

    return SieveScript


def max_scripts() -> int:
    return int(_model().MAX_SCRIPTS)


def list_scripts(address: str) -> list[tuple[str, bool]]:
    """(name, active) of every script, by name."""
    return [(n, a) for n, a in _model().objects.filter(mailbox_id=_mailbox_id(address))
            .order_by("name").values_list("name", "active")]


def get_script(address: str, name: str) -> str:
    row = _model().objects.filter(mailbox_id=_mailbox_id(address), name=name).first()
    if row is None:
        raise ScriptRefused("there is no script by that name", "NONEXISTENT")
    return str(row.script)


def _others(mailbox_id: int, name: str) -> dict[str, str]:
    return dict(_model().objects.filter(mailbox_id=mailbox_id).exclude(name=name).values_list("name", "script"))


def check_script(address: str, text: str, name: str = "") -> None:
    """Raise :class:`ScriptRefused` with the line and reason unless ``text`` would be stored."""
    try:
        ms.check(text, name, _others(_mailbox_id(address), name).get if name else None)
    except ms.SieveError as exc:
        code = "QUOTA/MAXSIZE" if "too large" in exc.reason else ""
        raise ScriptRefused(str(exc), code) from None


def have_space(address: str, name: str, size: int) -> None:
    """Raise :class:`ScriptRefused` (a QUOTA code) unless a script ``name`` of ``size`` bytes would fit."""
    if size > ms.MAX_SCRIPT:
        raise ScriptRefused(f"a script holds at most {ms.MAX_SCRIPT} bytes", "QUOTA/MAXSIZE")
    names = [n for n, _ in list_scripts(address)]
    if name not in names and len(names) >= max_scripts():
        raise ScriptRefused(f"a mailbox holds at most {max_scripts()} scripts", "QUOTA/MAXSCRIPTS")


def put_script(address: str, name: str, text: str) -> None:
    """Store (create or replace) script ``name``; checked first, quotas included."""
    mailbox_id = _mailbox_id(address)
    have_space(address, name, len(text.encode("utf-8")))
    model = _model()
    row = model.objects.filter(mailbox_id=mailbox_id, name=name).first() or model(mailbox_id=mailbox_id, name=name)
    row.script = text
    _save(row)


def _save(row) -> None:
    from . import invalidate

    try:
        row.full_clean(validate_constraints=False)
    except ValidationError as exc:
        messages = exc.message_dict
        text = "; ".join(m for field in ("script", "name") for m in messages.get(field, [])) or str(exc)
        raise ScriptRefused(text, "QUOTA/MAXSCRIPTS" if "at most" in text and "scripts" in text else "") from None
    row.save()
    invalidate()


def set_active(address: str, name: str) -> None:
    """Make ``name`` the active script; ``""`` leaves none active."""
    from . import invalidate

    mailbox_id = _mailbox_id(address)
    model = _model()
    with transaction.atomic():
        if name and not model.objects.filter(mailbox_id=mailbox_id, name=name).exists():
            raise ScriptRefused("there is no script by that name", "NONEXISTENT")
        model.objects.filter(mailbox_id=mailbox_id, active=True).exclude(name=name).update(active=False)
        if name:
            model.objects.filter(mailbox_id=mailbox_id, name=name).update(active=True)
    invalidate()


def delete_script(address: str, name: str) -> None:
    from . import invalidate

    row = _model().objects.filter(mailbox_id=_mailbox_id(address), name=name).first()
    if row is None:
        raise ScriptRefused("there is no script by that name", "NONEXISTENT")
    if row.active:
        raise ScriptRefused("the active script cannot be deleted", "ACTIVE")
    row.delete()
    invalidate()


def rename_script(address: str, old: str, new: str) -> None:
    mailbox_id = _mailbox_id(address)
    model = _model()
    row = model.objects.filter(mailbox_id=mailbox_id, name=old).first()
    if row is None:
        raise ScriptRefused("there is no script by that name", "NONEXISTENT")
    if model.objects.filter(mailbox_id=mailbox_id, name=new).exists():
        raise ScriptRefused("a script by that name exists", "ALREADYEXISTS")
    row.name = new
    try:
        _save(row)
    except IntegrityError:
        raise ScriptRefused("a script by that name exists", "ALREADYEXISTS") from None
