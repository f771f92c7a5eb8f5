"""What every reader refuses in a value, because some command or database cannot take it.

One set of rules for every command (`score`, `batch`, `ingest` on SQLite and PostgreSQL), checked
while a row is read, so a bad row is named file:line:field and never reaches a database:

- ids (lead id, event id) and event types: at most MAX_ID_CHARS characters (the store's columns);
- no NUL character in any text, key or id (PostgreSQL's text and JSONB cannot hold it);
- nested values (JSON objects and lists, Parquet structs) at most MAX_DEPTH levels deep (deeper
  documents exhaust the recursion of JSON encoders and of the scorer's value handling).
"""

from __future__ import annotations

from typing import Any

MAX_ID_CHARS = 255
MAX_DEPTH = 64
NUL = "\x00"
NUL_MESSAGE = "text holds a NUL character (no database stores it)"


def id_problem(text: str, what: str) -> str | None:
    """Why `text` cannot be an id / event type, or None."""
    if len(text) > MAX_ID_CHARS:
        return f"{what} is {len(text)} characters long; at most {MAX_ID_CHARS} allowed"
    if NUL in text:
        return NUL_MESSAGE
    return None


def value_problem(value: Any) -> str | None:
    """Why a property / attribute value cannot be stored, or None. Iterative: no recursion limit."""
    kind = type(value)
    if kind is str:
        return NUL_MESSAGE if NUL in value else None
    if kind is not dict and kind is not list:
        return None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} levels deep"
        children = item.items() if type(item) is dict else enumerate(item)
        for key, child in children:
            if type(key) is str and NUL in key:
                return NUL_MESSAGE
            t = type(child)
            if t is str:
                if NUL in child:
                    return NUL_MESSAGE
            elif t is dict or t is list:
                stack.append((child, depth + 1))
    return None


def key_problem(key: str) -> str | None:
    return NUL_MESSAGE if NUL in key else None
