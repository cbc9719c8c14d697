"""Optional imports that libraries make when they load and the appliance never uses: refused.

Django REST framework's ``compat`` module tries ``requests`` (for its ``RequestsClient``),
``pygments`` (for Markdown in the browsable API, which needs ``markdown``, not installed) and
``django.contrib.postgres.fields`` (which loads psycopg and its type adapters, even on
SQLite); Celery's command-line base tries ``pygments`` to colour JSON; ``django.test.utils``
(which DRF's test client brings in, and drf-spectacular with it) tries Jinja2 for its
``require_jinja2`` decorator (the appliance renders no Jinja2 templates). Each falls back when
the import fails. They loaded in every process that sets Django up (``django_filters`` imports
DRF when its app loads): about 10 MiB of Python heap (``bench/footprint.py --why``).

Refused only for those importers: any other module that imports ``requests`` (the ACME
client) or psycopg (the PostgreSQL backend) gets it as usual. A module some other code
already loaded is not refused either (the finder is asked only for modules not yet loaded).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

# module name -> the modules whose optional import of it is refused
REFUSED: dict[str, frozenset[str]] = {
    "requests": frozenset({"rest_framework.compat"}),
    "pygments": frozenset({"rest_framework.compat", "celery.bin.base"}),
    "django.contrib.postgres.fields": frozenset({"rest_framework.compat"}),
    "jinja2": frozenset({"django.test.utils"}),
}


def _importer() -> str:
    """The module whose code runs the import statement: the first frame outside importlib."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen_importlib")):
        frame = frame.f_back  # type: ignore[assignment]
    return "" if frame is None else str(frame.f_globals.get("__name__", ""))


class RefuseUnused(importlib.abc.MetaPathFinder):
    """Says "no such module" for :data:`REFUSED` pairs, as if the package were not installed."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        importers = REFUSED.get(fullname)
        if importers is not None and _importer() in importers:
            raise ModuleNotFoundError(f"{fullname} is not used by mailappliance (mailappliance.unused)", name=fullname)
        return None


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, RefuseUnused) for finder in sys.meta_path):
        sys.meta_path.insert(0, RefuseUnused())
