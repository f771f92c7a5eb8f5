"""Values made plain for JSON and CSV output: finite numbers, ISO text times, lists and dicts."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from leadscore.domain.timeutil import to_iso


def plain(value: Any) -> Any:
    """A JSON-ready copy: NaN and infinities become null (JSON has no such numbers), datetimes
    ISO text in UTC with a Z, tuples lists; anything else unknown becomes its text."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return plain(float(value))
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def cell_text(value: Any) -> str:
    """One CSV cell: missing is empty, nested values are compact JSON."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | bool):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(plain(value), ensure_ascii=False, allow_nan=False, indent=indent)
