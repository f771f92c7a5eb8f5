"""Result dictionaries compared as the issue states it: exactly, except floats to 1e-9."""

from __future__ import annotations

import math
from typing import Any


def same(a: Any, b: Any, path: str = "") -> list[str]:
    if (
        isinstance(a, float | int)
        and isinstance(b, float | int)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        ok = math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
        return [] if ok else [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in same(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {a!r} != {b!r}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in same(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def by_lead(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["lead_id"]: r for r in results}


def differences(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> list[str]:
    exp, out = by_lead(expected), by_lead(got)
    if set(exp) != set(out) or len(got) != len(expected):
        return [f"leads {sorted(exp)} != {sorted(out)}"]
    return [d for lead in exp for d in same(exp[lead], out[lead], lead)]
