"""SQL text for literals and identifiers, written once in DuckDB's dialect and transpiled for the others.

Floats are written as `CAST('<repr>' AS DOUBLE)` so that no dialect reads them as DECIMAL and rounds
differently from Python; integers stay integers (they compare exactly with both kinds of number).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def ident(name: str) -> str:
    """A quoted identifier: property and attribute names may be anything a data file allows."""
    return '"' + name.replace('"', '""') + '"'


def text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def number(value: float | int) -> str:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number here")
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return str(value)
        return f"CAST('{float(value)!r}' AS DOUBLE)"
    if math.isnan(value):
        return "CAST('nan' AS DOUBLE)"
    if math.isinf(value):
        return "CAST('inf' AS DOUBLE)" if value > 0 else "CAST('-inf' AS DOUBLE)"
    return f"CAST({value!r} AS DOUBLE)"


def double(value: float | int) -> str:
    """A number that must take part in floating-point arithmetic (points, caps): always DOUBLE."""
    return f"CAST({float(value)!r} AS DOUBLE)" if math.isfinite(float(value)) else number(float(value))


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, str):
        return text(value)
    raise TypeError(f"no SQL literal for {value!r}")


def text_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(text(v) for v in values) + ")"


def all_of(parts: list[str]) -> str:
    parts = [p for p in parts if p != "TRUE"]
    if "FALSE" in parts:
        return "FALSE"
    if not parts:
        return "TRUE"
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def any_of(parts: list[str]) -> str:
    parts = [p for p in parts if p != "FALSE"]
    if "TRUE" in parts:
        return "TRUE"
    if not parts:
        return "FALSE"
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def negate(part: str) -> str:
    if part == "TRUE":
        return "FALSE"
    if part == "FALSE":
        return "TRUE"
    return f"(NOT {part})"
