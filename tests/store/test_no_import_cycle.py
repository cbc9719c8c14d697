"""The store's modules import each other one way only (``Folder`` and its writer used to import each other).

Every import counts, also inside functions and under ``if TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

STORE = Path(__file__).resolve().parents[2] / "agents" / "store"


def _imports(path: Path) -> set[str]:
    """Names of sibling store modules that ``path`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("agents.store."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("agents.store."))
    return found


def test_store_modules_have_no_import_cycle():
    graph = {p.stem: _imports(p) for p in STORE.glob("*.py") if p.stem != "__init__"}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif len(path) < len(graph):
                visit(nxt, path + [nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []
    assert "folder" not in graph["writes"] and "writes" in graph["folder"]
