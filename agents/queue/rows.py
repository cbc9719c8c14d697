"""Queue rows written in bulk with one prepared INSERT per table (``executemany``).

The group commit writes three rows or more per message. Through ``bulk_create`` each row
was a model instance whose every field went through ``get_db_prep_save`` and a query
compiler, about 2 ms of CPU per message at one session: the largest cost of reception.
Here each table's INSERT is built once from the model's fields, and a row is a tuple, run on
the driver's own cursor.
Columns the caller does not give get the field's default (``timezone.now`` defaults all
get the group's one timestamp), so a field added to the model is filled like the ORM
would fill it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.utils import timezone

_NOW = object()


class Insert:
    """``INSERT INTO table (every concrete column but an auto id) VALUES (...)`` for ``model``,
    taking values for ``given`` fields (by name) in that order."""

    def __init__(self, model: type[models.Model], given: Sequence[str]) -> None:
        self.model = model
        self.given = list(given)
        self._sql: str | None = None
        self._plan: list[tuple[int, Any]] | None = None  # per column: (index in given, -1) or (-1, default)

    def _prepare(self) -> tuple[str, list[tuple[int, Any]]]:
        if self._sql is None or self._plan is None:
            fields = [f for f in self.model._meta.concrete_fields if not isinstance(f, models.AutoField)]
            plan: list[tuple[int, Any]] = []
            for f in fields:
                name = f.attname if f.attname in self.given else f.name
                if name in self.given:
                    plan.append((self.given.index(name), None))
                elif f.default is timezone.now:
                    plan.append((-1, _NOW))
                elif f.has_default() and callable(f.default):
                    raise TypeError(f"{self.model.__name__}.{f.name}: a callable default other than now")
                else:
                    plan.append((-1, f.get_db_prep_save(f.get_default(), connection)))
            missing = set(self.given) - {f.attname for f in fields} - {f.name for f in fields}
            if missing:
                raise ValueError(f"{self.model.__name__} has no field {sorted(missing)}")
            quote = connection.ops.quote_name
            columns = ", ".join(quote(str(f.column)) for f in fields)
            marks = ", ".join([_mark()] * len(fields))
            self._sql = f"INSERT INTO {quote(self.model._meta.db_table)} ({columns}) VALUES ({marks})"
            self._plan = plan
        return self._sql, self._plan

    def run(self, rows: Iterable[Sequence[Any]], now: datetime.datetime) -> None:
        """Insert ``rows`` (tuples in the order of ``given``); call inside the caller's transaction."""
        sql, plan = self._prepare()
        db = connections[DEFAULT_DB_ALIAS]
        stamp = db.ops.adapt_datetimefield_value(now)
        values = [
            [row[index] if index >= 0 else (stamp if default is _NOW else default) for index, default in plan]
            for row in rows
        ]
        if values:
            executemany(sql, values, db)


def _mark() -> str:
    """The driver's own placeholder (sqlite3: ``?``; psycopg: ``%s``)."""
    return "?" if connection.vendor == "sqlite" else "%s"


def executemany(sql: str, values: list, db: Any = None) -> None:
    """Run ``sql`` (with :func:`_mark` placeholders) on the driver's cursor, inside the caller's
    transaction. Django's cursor wrapper rewrote the placeholders and checked for an event loop
    on each call: a tenth of a one-message group commit's CPU. ``db``: the connection wrapper
    (``connections[alias]``) if the caller has it; each attribute of ``django.db.connection`` is
    two look-ups (its proxy, then the thread's asgiref ``Local``), and ``ensure_connection``
    asks for an event loop (an exception raised and caught) even when connected."""
    if db is None:
        db = connections[DEFAULT_DB_ALIAS]
    raw = db.connection
    if raw is None:
        db.ensure_connection()
        raw = db.connection
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, values)
    finally:
        cursor.close()
