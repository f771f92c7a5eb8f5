"""Feature names and values in words a salesperson reads: "form_submit in the last 90 days: 3" rather
than "n_form_submit_90d = 3". Flat-table columns keep their own names ("seniority = director")."""

from __future__ import annotations

import math
import re

_COUNT = re.compile(r"^n_(.+)_(\d+)d$")
_EVER = re.compile(r"^n_(.+)_all$")
_SINCE = re.compile(r"^days_since_(.+)$")


def _value(value: object) -> str:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}" if abs(value) >= 1 else f"{value:.2g}"
    return str(value)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def phrase(name: str, value: object, amount: str = "amount") -> str:
    """One feature and its value for one lead, in plain words."""
    if name == "n_events_all":
        return f"events so far: {_value(value)}"
    if name == "n_events_30d":
        return f"events in the last 30 days: {_value(value)}"
    if name == "days_since_first_event":
        return "no activity yet" if _missing(value) else f"first seen {_value(round(float(value)))} days ago"  # type: ignore[arg-type]
    if name == "days_since_last_event":
        return "no activity yet" if _missing(value) else f"last active {_value(round(float(value)))} days ago"  # type: ignore[arg-type]
    if name.startswith("rule_"):
        return f"rule score {name.removeprefix('rule_')}: {_value(value)}"
    if name.startswith("attr_"):
        name = name.removeprefix("attr_")
        return f"{name} is unknown" if _missing(value) else f"{name} = {_value(value)}"
    if name.startswith(f"{amount}_"):
        span = name.removeprefix(f"{amount}_")
        when = "in total" if span == "all" else f"in the last {span.removesuffix('d')} days"
        return f"{amount} {when}: {_value(value)}"
    if m := _COUNT.match(name):
        return f"{m.group(1)} in the last {m.group(2)} days: {_value(value)}"
    if m := _EVER.match(name):
        return f"{m.group(1)} so far: {_value(value)}"
    if m := _SINCE.match(name):
        if _missing(value):
            return f"no {m.group(1)} yet"
        return f"last {m.group(1)} {_value(round(float(value)))} days ago"  # type: ignore[arg-type]
    return f"{name} is missing" if _missing(value) else f"{name} = {_value(value)}"
