"""The library imports no web framework: only the edges (cli/, api/, dashboard/) may."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.source_trees import module_trees

SRC = Path(__file__).resolve().parents[2] / "src" / "leadscore"
EDGES = {"cli", "api", "dashboard"}
WEB = ("fastapi", "starlette", "uvicorn", "leadscore.api", "leadscore.dashboard", "leadscore.cli")


def _imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_library_imports_no_web_framework() -> None:
    offenders = []
    # the trees once: each `module_trees` call lists and sorts the whole source tree again
    for path, tree in module_trees(SRC).items():
        if path.relative_to(SRC).parts[0] in EDGES:
            continue
        bad = sorted(m for m in _imports(tree) if m.startswith(WEB))
        if bad:
            offenders.append(f"{path.relative_to(SRC)}: {', '.join(bad)}")
    assert offenders == []
