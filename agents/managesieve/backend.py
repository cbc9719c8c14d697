"""The ManageSieve agent's link to the configuration: logins and scripts through agents.config (in threads)."""

from __future__ import annotations

import asyncio

from agents import authsvc
from agents.config import sieve as scripts

from .session import Refused

OPERATIONS = ("list_scripts", "get_script", "put_script", "check_script", "set_active", "delete_script",
              "rename_script", "have_space")


class ConfigBackend:
    async def authenticate(self, user: str, password: str) -> str | None:
        info = await asyncio.to_thread(_blocking, authsvc.authenticate, user, password, "managesieve")
        return info.address if info is not None else None

    async def call(self, operation: str, address: str, *args: object) -> object:
        if operation not in OPERATIONS:
            raise ValueError(operation)
        try:
            return await asyncio.to_thread(_blocking, getattr(scripts, operation), address, *args)
        except scripts.ScriptRefused as exc:
            raise Refused(exc.text, exc.code) from None


def _blocking(function, *args):
    from django.db import close_old_connections

    try:
        return function(*args)
    finally:
        close_old_connections()
