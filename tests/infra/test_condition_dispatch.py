"""Dispatch on condition kinds stays in the handlers docs/architecture.md lists ("Adding a condition kind"):
no `isinstance` ladder over the kinds anywhere in the library, and every `match` over them ends in
`case _: assert_never(...)`, so that mypy reports a kind a handler misses."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from leadscore.model.conditions import CONDITION_KINDS
from tests.conftest import ROOT
from tests.support.source_trees import module_trees

SRC = ROOT / "src" / "leadscore"
KIND_NAMES = {cls.__name__ for cls in CONDITION_KINDS}


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def _pattern_kinds(pattern: ast.pattern) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(pattern):
        if isinstance(node, ast.MatchClass):
            found |= _names(node.cls) & KIND_NAMES
    return found


def _ends_in_assert_never(match: ast.Match) -> bool:
    last = match.cases[-1]
    if not (isinstance(last.pattern, ast.MatchAs) and last.pattern.pattern is None and last.guard is None):
        return False
    call = last.body[0]
    return (
        isinstance(call, ast.Expr)
        and isinstance(call.value, ast.Call)
        and isinstance(call.value.func, ast.Name)
        and call.value.func.id == "assert_never"
    )


def _is_kind_test(node: ast.AST) -> bool:
    """`isinstance(x, SomeKindCondition)` (or a tuple or union holding one)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "isinstance"
        and len(node.args) == 2
        and bool(_names(node.args[1]) & KIND_NAMES)
    )


def _scan() -> tuple[list[str], dict[str, list[str]]]:
    """(isinstance tests of a kind, {module: problems of its matches}) for every module of the library."""
    ladders: list[str] = []
    handlers: dict[str, list[str]] = {}
    for path, tree in module_trees(SRC).items():
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if _is_kind_test(node):
                ladders.append(f"{rel}:{node.lineno}")
            if isinstance(node, ast.Match) and any(_pattern_kinds(c.pattern) for c in node.cases):
                problems = handlers.setdefault(rel, [])
                if not _ends_in_assert_never(node):
                    problems.append(f"{rel}:{node.lineno}: a match over condition kinds without assert_never")
    return ladders, handlers


def test_no_isinstance_ladder_over_condition_kinds() -> None:
    ladders, _ = _scan()
    assert not ladders, "dispatch on a condition kind with `match` in its handler: " + ", ".join(ladders)


def test_every_match_over_the_kinds_ends_in_assert_never() -> None:
    _, handlers = _scan()
    problems = [p for found in handlers.values() for p in found]
    assert not problems, problems


def test_the_handlers_are_the_ones_the_architecture_lists() -> None:
    """A new handler is added to the list of what a new kind must touch."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Adding a condition kind", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`(src/leadscore/[\w/]+\.py)`", section))
    _, handlers = _scan()
    assert set(handlers) <= listed, sorted(set(handlers) - listed)
    assert "src/leadscore/model/conditions.py" in listed
    for path in listed:
        assert (ROOT / path).exists(), path


def test_the_scan_finds_a_ladder_and_a_match_without_assert_never(tmp_path: Path) -> None:
    """The checks above can fail: the same scan over a module that breaks both rules."""
    bad = (
        "def f(cond):\n"
        "    if isinstance(cond, CountCondition):\n"
        "        return 1\n"
        "    match cond:\n"
        "        case NoneCondition():\n"
        "            return 2\n"
    )
    (tmp_path / "bad.py").write_text(bad, encoding="utf-8")
    tree = module_trees(tmp_path)[tmp_path / "bad.py"]
    calls = [n for n in ast.walk(tree) if _is_kind_test(n)]
    matches = [n for n in ast.walk(tree) if isinstance(n, ast.Match)]
    assert calls and matches and not _ends_in_assert_never(matches[0])
