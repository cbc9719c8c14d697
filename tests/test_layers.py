"""The layers of DESIGN.md, enforced on every import (docs/internals.md "Layers").

Every ``import``, ``from … import``, ``importlib.import_module("…")``,
``__import__("…")`` and ``apps.get_model("app", …)`` counts, wherever it sits: at
module level, inside a function, or under ``if TYPE_CHECKING``. The rules:

1. pure modules (the protocol parsers and everything in ``agents/store``) import no
   Django, no ``webadmin``, no ``agents.config``, and of this project only pure
   modules and ``mailcore``;
2. the engine (``agents``) never imports a face (admin, dashboard, API, webmail,
   autoconfig, the CLI commands);
3. the engine reads the configuration (``webadmin``) only through ``agents.config``;
4. configuration (``webadmin`` apart from its faces) never imports the engine;
5. ``mailcore`` imports neither Django nor the engine nor the configuration.

A break that must stay goes on ``ALLOWED`` with its reason; the list can only
shrink: an entry no longer needed fails the test too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("agents", "webadmin", "mailappliance", "mailcore")

DJANGO = ("django", "rest_framework", "drf_spectacular", "django_filters", "celery", "mailappliance")
NEUTRAL = ("mailcore",)
ENGINE = ("agents",)
CONFIG_READER = ("agents.config",)
CONFIGURATION = ("webadmin",)
FACES = (
    "webadmin.admin", "webadmin.dashboard", "webadmin.api", "webadmin.webmail", "webadmin.autoconfig",
    "webadmin.mailproxy",
    "webadmin.management", "agents.admin", "agents.management", "mailappliance.urls", "mailappliance.wsgi",
)  # fmt: skip
PURE = (
    "agents.store",
    "agents.imap.lexer", "agents.imap.parser", "agents.imap.fetchitems", "agents.imap.search",
    "agents.imap.sequence", "agents.imap.responses", "agents.imap.mime", "agents.imap.searching", "agents.imap.sorting",
    "agents.pop3.parser", "agents.pop3.wire", "agents.managesieve.parser",
    "agents.smtp.protocol", "agents.smtp.policy", "agents.smtp.replies", "agents.smtp.content",
    "agents.smtp.data", "agents.smtp.xclient", "agents.proxyprotocol", "agents.proxylogin", "agents.peers",
    "agents.mailauth.message", "agents.mailauth.authresults", "agents.delivery.message",
)  # fmt: skip

# (importer, imported) -> why it stays. Only ever remove entries.
ALLOWED: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # dotted name imported (a module, or module.attribute)
    path: str
    line: int


@dataclass(frozen=True)
class Violation:
    rule: str
    found: Import

    def __str__(self) -> str:
        return f"{self.found.path}:{self.found.line}: {self.found.importer} imports {self.found.target} ({self.rule})"


def within(name: str, prefixes: Iterable[str]) -> bool:
    """``name`` is one of ``prefixes`` or inside one of them (dotted)."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def imports_of(root: Path, path: Path) -> list[Import]:
    """Every import in one file, wherever it is written."""
    importer = module_name(root, path)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    rel = str(path.relative_to(root))
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=rel)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if alias.name != "*" else base for alias in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            first = _string(node.args[0]) if node.args else None
            if name in ("import_module", "__import__") and first:
                targets = [first]
            elif name == "get_model" and first:  # apps.get_model("webadmin", "Mailbox") / ("webadmin.Mailbox")
                targets = [first.partition(".")[0] + ".models"]
        found.extend(Import(importer, target, rel, getattr(node, "lineno", 0)) for target in targets)
    return found


def all_imports(root: Path, packages: Iterable[str] = PACKAGES) -> list[Import]:
    found: list[Import] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found.extend(imports_of(root, path))
    return found


def violations(found: Iterable[Import]) -> list[Violation]:
    """Every import that breaks a layer rule (before the allow-list)."""
    out: list[Violation] = []
    for imp in found:
        src, dst = imp.importer, imp.target
        if within(src, PURE):
            if within(dst, DJANGO) or within(dst, CONFIGURATION) or within(dst, CONFIG_READER):
                out.append(Violation("a pure module imports Django or the configuration", imp))
            elif within(dst, ENGINE) and not within(dst, PURE):
                out.append(Violation("a pure module imports an impure part of the engine", imp))
        if within(src, NEUTRAL) and (within(dst, DJANGO) or within(dst, ENGINE) or within(dst, CONFIGURATION)):
            out.append(Violation("mailcore must stay neutral", imp))
        if within(src, ENGINE) and not within(src, FACES):
            if within(dst, FACES):
                out.append(Violation("the engine imports a face", imp))
            elif within(dst, CONFIGURATION) and not within(src, CONFIG_READER):
                out.append(Violation("the engine reads configuration outside agents.config", imp))
        if within(src, CONFIGURATION) and not within(src, FACES) and within(dst, ENGINE):
            out.append(Violation("configuration imports the engine", imp))
    return out


def unexplained(found: Iterable[Import]) -> list[Violation]:
    return [v for v in violations(found) if (v.found.importer, v.found.target) not in ALLOWED]


# --- the rules hold in this repository ------------------------------------------------------


def test_the_layers_hold():
    broken = unexplained(all_imports(REPO))
    assert not broken, "layer rules broken (docs/internals.md, Layers):\n" + "\n".join(map(str, broken))


def test_every_allow_list_entry_is_still_needed():
    needed = {(v.found.importer, v.found.target) for v in violations(all_imports(REPO))}
    stale = [entry for entry in ALLOWED if entry not in needed]
    assert not stale, f"remove these allow-list entries, nothing needs them any more: {stale}"


def test_the_walk_sees_the_code():
    """The checker reads real imports (a walk that found nothing would pass every rule)."""
    found = all_imports(REPO)
    pairs = {(i.importer, i.target) for i in found}
    assert ("agents.config", "webadmin.models.Mailbox") in pairs  # inside a function
    assert ("agents.store.names", "mailcore.mutf7") in pairs
    assert any(within(i.importer, ("agents.store",)) for i in found)


def test_every_pure_module_exists():
    for name in PURE:
        path = REPO / Path(*name.split("."))
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), name


# --- the checker catches each kind of break -----------------------------------------------


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in PACKAGES:
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").touch()


def broken_in(tmp_path: Path, files: dict[str, str]) -> list[str]:
    write_tree(tmp_path, files)
    return [f"{v.found.importer} -> {v.found.target}: {v.rule}" for v in unexplained(all_imports(tmp_path))]


def test_a_clean_tree_passes(tmp_path):
    assert broken_in(tmp_path, {
        "agents/store/__init__.py": "from mailcore import durable\nfrom . import index\n",
        "agents/store/index.py": "import sqlite3\n",
        "agents/config.py": "def f():\n    from webadmin.models import Mailbox\n",
        "agents/queue.py": "from agents import config\nfrom django.db import transaction\n",
        "webadmin/models.py": "from django.db import models\nfrom mailcore.addresses import split_address\n",
        "webadmin/api/views.py": "from agents.store import Store\nfrom webadmin import models\n",
        "mailcore/durable.py": "import os\n",
    }) == []  # fmt: skip


def test_django_inside_a_function_of_the_store_is_caught(tmp_path):
    assert broken_in(tmp_path, {
        "agents/store/__init__.py": "def default_store():\n    from django.conf import settings\n",
    }) == ["agents.store -> django.conf.settings: a pure module imports Django or the configuration"]  # fmt: skip


def test_a_parser_reaching_an_impure_engine_module_is_caught(tmp_path):
    assert broken_in(tmp_path, {"agents/imap/parser.py": "from .session import Session\n"}) == [
        "agents.imap.parser -> agents.imap.session.Session: a pure module imports an impure part of the engine"
    ]


def test_the_engine_importing_a_face_is_caught(tmp_path):
    assert broken_in(tmp_path, {
        "agents/delivery/local.py": "import importlib\nimportlib.import_module('webadmin.webmail.views')\n",
    }) == ["agents.delivery.local -> webadmin.webmail.views: the engine imports a face"]  # fmt: skip


def test_the_engine_reading_models_outside_the_config_reader_is_caught(tmp_path):
    assert broken_in(tmp_path, {
        "agents/mailauth/policy.py": "def load():\n    from webadmin.models import MailPolicy\n",
        "agents/fetch/tasks.py": "from django.apps import apps\nS = apps.get_model('webadmin', 'ExternalSource')\n",
    }) == [
        "agents.fetch.tasks -> webadmin.models: the engine reads configuration outside agents.config",
        "agents.mailauth.policy -> webadmin.models.MailPolicy: the engine reads configuration outside agents.config",
    ]  # fmt: skip


def test_configuration_importing_the_engine_is_caught(tmp_path):
    assert broken_in(tmp_path, {
        "webadmin/services.py": "def remove():\n    from agents.store import retire_mailbox\n",
        "webadmin/models.py": "from agents.fetch import secret\n",
    }) == [
        "webadmin.models -> agents.fetch.secret: configuration imports the engine",
        "webadmin.services -> agents.store.retire_mailbox: configuration imports the engine",
    ]  # fmt: skip


def test_mailcore_importing_django_or_a_layer_is_caught(tmp_path):
    assert broken_in(tmp_path, {
        "mailcore/secret.py": "def key():\n    from django.conf import settings\n",
        "mailcore/addresses.py": "__import__('webadmin.models')\n",
    }) == [
        "mailcore.addresses -> webadmin.models: mailcore must stay neutral",
        "mailcore.secret -> django.conf.settings: mailcore must stay neutral",
    ]  # fmt: skip


def test_relative_imports_are_resolved(tmp_path):
    assert broken_in(tmp_path, {"agents/store/folder.py": "from ..config import get_mailbox\n"}) == [
        "agents.store.folder -> agents.config.get_mailbox: a pure module imports Django or the configuration"
    ]
