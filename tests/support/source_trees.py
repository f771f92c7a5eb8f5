"""Syntax trees of the library's modules, parsed in a fresh interpreter.

CPython 3.11 before 3.11.8 keeps a broken recursion counter in the `ast` module once a conversion of a
deep tree has failed in the process (gh-106905); every later `ast.parse` in that process then raises
"SystemError: AST constructor recursion depth mismatch". Tests that read the source run in pytest
workers that have already parsed hostile, deeply nested input, so the trees are parsed in a child
interpreter and sent back pickled (AST nodes pickle).
"""

from __future__ import annotations

import ast
import functools
import pickle
import subprocess
import sys
from pathlib import Path

_CHILD = (
    "import ast, pickle, sys\n"
    "paths = sys.stdin.read().splitlines()\n"
    "trees = [ast.parse(open(p, encoding='utf-8').read(), filename=p) for p in paths]\n"
    "sys.stdout.buffer.write(pickle.dumps(trees))\n"
)


@functools.cache
def _parse_all(paths: tuple[str, ...]) -> tuple[ast.Module, ...]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], input="\n".join(paths).encode(), capture_output=True, timeout=120, check=True
    )
    trees = pickle.loads(done.stdout)  # our own child's output
    return tuple(trees)


def module_trees(root: Path) -> dict[Path, ast.Module]:
    """{path: tree} of every `*.py` under `root`, in sorted order."""
    paths = sorted(root.rglob("*.py"))
    return dict(zip(paths, _parse_all(tuple(str(p) for p in paths)), strict=True))
