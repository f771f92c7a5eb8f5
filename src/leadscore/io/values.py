"""Turning cells into values: numeric text into numbers, ids into text, times into UTC datetimes.

CSV has no types, so numeric-looking text becomes a number, with exceptions that protect data
which only looks numeric:

- text with a leading zero ("007", "0612345678": zip codes, phone numbers) stays text, and so does
  text with a leading "+" ("+4799887766": an international phone number, never written as a number);
- "nan", "inf", "Infinity" stay text, and so does a number outside the range every engine holds
  exactly (`domain.numbers`: +-2**53; "1e999", a 20-digit reference number);
- "true" / "false" stay text: a model compares them as text (`plan: "true"`), and guessing
  booleans would also turn a column of "yes"/"no" answers into a mix of types;
- an empty cell (after stripping spaces) is missing: absent from the row, never None.

JSON Lines and Parquet values keep their own types; these rules are for CSV cells only. A JSON or
Parquet number that is not finite or out of that range is refused with its row (`convert`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from leadscore.domain.numbers import MAX_MAGNITUDE
from leadscore.domain.timeutil import parse_timestamp

_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
NUMERIC_START = frozenset("0123456789-.")

_fromisoformat = datetime.fromisoformat


def coerce_cell(text: str) -> str | int | float:
    """A stripped, non-empty CSV cell as int, float or text (see the module docstring)."""
    if text[0] not in NUMERIC_START:
        return text
    if _INT.fullmatch(text):
        number = int(text)
        return number if -MAX_MAGNITUDE <= number <= MAX_MAGNITUDE else text
    if _FLOAT.fullmatch(text):
        value = float(text)
        if math.isfinite(value) and -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
            return value
    return text


def id_text(value: Any) -> str | None:
    """An id as text: 17 -> "17", 17.0 -> "17"; None for a value that cannot be an id.

    Booleans and fractional numbers are refused: they are almost always a wrong column.
    """
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def to_timestamp(value: Any) -> datetime:
    """parse_timestamp, with a shortcut for the common UTC texts ("...Z", "...+00:00").

    Same result as parse_timestamp for every input; raises ValueError with its messages.
    """
    if type(value) is str:
        try:
            dt = _fromisoformat(value)
        except ValueError:
            return parse_timestamp(value)
        if dt.tzinfo is UTC:
            return dt
    elif type(value) is datetime and value.tzinfo is UTC:
        return value
    return parse_timestamp(value)
