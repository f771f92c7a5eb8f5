"""Repeated subexpressions of generated SQL computed once, as columns of the CTEs before their use.

The lifecycle's stage bounds (`stage_sql`) write the same score bounds into several transitions' tests:
29 KB of SQL for the b2b example's `_ls_stage`, where 9 KB say the same with each repeated part named
once. DuckDB binds and plans every copy of every part, for every part of a rescore: planning that
query cost more than running it (0.11 of 0.15 CPU s for 10,000 leads). `hoist` finds the repeated
parenthesized expressions in the SQL text and names them, so `query.build_query` computes each once.

Only what is surely one expression is taken: a group in parentheses that is not a function's or an
`IN` list's, holds no comma at its top level (a row, not a value) and whose text has no lambda (a
lambda's body reads its parameters, which no column outside it can). The replaced text is the same
SQL over the same row, so the values are the same.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

# a group in parentheses after these words is an operand; after any other word it is a call's arguments
# (`least(`, `CAST(`), an `IN (` list or a clause (`FILTER (WHERE`, `OVER (`)
_OPERAND_AFTER = frozenset({"AND", "OR", "NOT", "THEN", "ELSE", "WHEN"})
MIN_CHARS = 80  # shorter parts cost less to bind than the column that would name them


def _groups(sql: str) -> list[tuple[int, int]]:
    """(start, end) of every parenthesized operand of `sql` (quoted text and names skipped)."""
    out: list[tuple[int, int]] = []
    stack: list[int] = []
    quote = ""
    for i, ch in enumerate(sql):
        if quote:
            if ch == quote:  # a doubled quote closes and opens again: the same state after both
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            stack.append(i)
        elif ch == ")":
            if not stack:
                return []  # not balanced: nothing is taken from it
            start = stack.pop()
            k = start - 1
            while k >= 0 and sql[k] == " ":
                k -= 1
            m = k
            while m >= 0 and (sql[m].isalnum() or sql[m] == "_"):
                m -= 1
            word = sql[m + 1 : k + 1]
            if k >= 0 and (sql[k] in "'\"" or (word and word.upper() not in _OPERAND_AFTER)):
                continue
            out.append((start, i + 1))
    return [] if stack or quote else out


def _one_value(part: str) -> bool:
    """No comma at the top level of the group: `(a, b)` is a row."""
    depth, quote = 0, ""
    for ch in part[1:-1]:
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            return False
    return True


def _replace(sql: str, part: str, name: str) -> str:
    """`sql` with each operand group equal to `part` replaced by the column `name`."""
    if "lambda" in sql:
        return sql
    out, last = [], 0
    for start, end in _groups(sql):  # in order of their ends: an inner group before the one around it
        if start >= last and sql[start:end] == part:
            out += [sql[last:start], name]
            last = end
    return "".join([*out, sql[last:]])


def hoist(exprs: list[str], prefix: str, min_chars: int = MIN_CHARS) -> tuple[list[list[tuple[str, str]]], list[str]]:
    """(layers of (SQL, column name), `exprs` reading those columns): each layer's columns read only
    the row's columns and the earlier layers' (a CTE each). The most repeated text (length times
    copies saved) is named first; what a named part repeats inside it is named in turn."""
    layers, out = _hoisted(tuple(exprs), prefix, min_chars)
    return [list(layer) for layer in layers], list(out)


@lru_cache(maxsize=16)
def _hoisted(
    exprs_in: tuple[str, ...], prefix: str, min_chars: int
) -> tuple[tuple[tuple[tuple[str, str], ...], ...], tuple[str, ...]]:
    """`hoist` of the same text answered once per process: the parts of a store's rescore build the same
    queries (one model, one time) part after part, and this scan of their text character by character
    cost about 0.08 CPU s a part (three queries of a lifecycle model), as much as planning one of them."""
    exprs = list(exprs_in)
    defs: list[tuple[str, str]] = []  # (name, SQL)
    while True:
        counts: Counter[str] = Counter()
        for text in [*exprs, *(sql for _, sql in defs)]:
            if "lambda" not in text:
                counts.update(text[a:b] for a, b in _groups(text))
        found = [p for p, n in counts.items() if n > 1 and len(p) >= min_chars and _one_value(p)]
        if not found:
            break
        best = max(found, key=lambda p: (len(p) * (counts[p] - 1), p))
        name = f"{prefix}{len(defs)}"
        exprs = [_replace(e, best, name) for e in exprs]
        defs = [(n, _replace(sql, best, name)) for n, sql in defs]
        defs.append((name, best))
    named = dict(defs)
    depth: dict[str, int] = {}

    def layer(name: str) -> int:  # one after the deepest part it reads (no part reads itself)
        if name not in depth:
            reads = [n for n in named if n != name and re.search(rf"\b{n}\b", named[name])]
            depth[name] = 1 + max((layer(n) for n in reads), default=-1)
        return depth[name]

    for name in named:
        layer(name)
    layers: list[list[tuple[str, str]]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
    for name, sql in defs:
        layers[depth[name]].append((sql, name))
    return tuple(tuple(layer) for layer in layers), tuple(exprs)
