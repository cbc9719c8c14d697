"""A mailbox's Sieve scripts for ManageSieve: list, read, store, check, activate, rename, delete.

The engine's one door to the scripts (layer rule: the engine reads and writes the
configuration only through ``agents.config``). The work is ``webadmin.sievescripts``, the
same functions the webmail and dashboard script pages call, so every door checks a
script the same way; this module maps the logged-in address to its mailbox and drops
this process's cache after a change. Blocking (database): the ManageSieve session calls
these in a worker thread. Refusals are :class:`ScriptRefused` with a ManageSieve response
code (``QUOTA/MAXSCRIPTS``, ``QUOTA/MAXSIZE``, ``NONEXISTENT``, ``ALREADYEXISTS``,
``ACTIVE``) or none (a script that does not check, with its line).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


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


def _call(function: Callable[..., T], address: str, *args: Any, changes: bool = False) -> T:
    from webadmin import sievescripts

    try:
        return function(_mailbox_id(address), *args)
    except sievescripts.ScriptError as exc:
        raise ScriptRefused(exc.text, exc.code) from None
    finally:
        if changes:
            from . import invalidate

            invalidate()


def _service() -> Any:
    from webadmin import sievescripts

    return sievescripts


def max_scripts() -> int:
    from webadmin.models import SieveScript

    return int(SieveScript.MAX_SCRIPTS)


def list_scripts(address: str) -> list[tuple[str, bool]]:
    """(name, active) of every script, by name."""
    return _call(_service().list_scripts, address)


def get_script(address: str, name: str) -> str:
    return _call(_service().get_script, address, name)


def check_script(address: str, text: str, name: str = "") -> None:
    """Raise :class:`ScriptRefused` with the line and reason unless ``text`` would be stored."""
    _call(_service().check_script, address, text, name)


def have_space(address: str, name: str, size: int) -> None:
    """Raise :class:`ScriptRefused` (a QUOTA code) unless a script ``name`` of ``size`` bytes would fit."""
    _call(_service().have_space, address, name, size)


def put_script(address: str, name: str, text: str) -> None:
    """Store (create or replace) script ``name``; checked first, quotas included."""
    _call(_service().put_script, address, name, text, changes=True)


def set_active(address: str, name: str) -> None:
    """Make ``name`` the active script; ``""`` leaves none active."""
    _call(_service().set_active, address, name, changes=True)


def delete_script(address: str, name: str) -> None:
    _call(_service().delete_script, address, name, changes=True)


def rename_script(address: str, old: str, new: str) -> None:
    _call(_service().rename_script, address, old, new, changes=True)
