"""Which events can change a result at all: the rest need not leave the store.

A model reads an event type through its rules and conditions, each with a window or without one.
An event of a type no rule or condition names, or older than the longest window its type is read
through, counts for nothing; on months of history that is a large share of the events (59% of the
generated B2B data are not read by the B2B rules at all). Where reading an event is the cost
(parsing its JSON in PostgreSQL, exporting it from SQLite), those are left where they are. In
DuckDB over Parquet the filter did not pay: the events it drops are the cheap ones, which match no
rule, and it cost a pass of its own. A lifecycle reads every event (the replay's order and first
event), so it keeps them all.
"""

from __future__ import annotations

from collections.abc import Sequence

from leadscore.model.conditions import EventCondition
from leadscore.model.spec import EventRule, ScoringModel
from leadscore.model.walk import conditions
from leadscore.sql import literals as q


def horizons(model: ScoringModel) -> dict[str, int | None] | None:
    """Per event type the model reads, the longest window it is read through (None: all time);
    None when every event matters."""
    if model.lifecycle is not None or model.predictive_dimensions():
        return None
    reads: list[tuple[Sequence[str], int | None]] = []
    for rule in model.rules:
        if isinstance(rule, EventRule):
            reads.append((rule.on, None if rule.within is None else int(rule.within)))
    for cond in conditions(model):  # no lifecycle here: rules, labels and playbooks
        if isinstance(cond, EventCondition):  # `last:` reads the latest event, however old: no window
            reads.append((cond.types, None if cond.window is None else int(cond.window)))
    out: dict[str, int | None] = {}
    for types, window in reads:
        for t in types:
            if t in out and (out[t] is None or window is None):
                out[t] = None
            else:
                out[t] = window if t not in out else max(out[t] or 0, window or 0)
    return out


def relevant_sql(found: dict[str, int | None], ts: str, at: int) -> str:
    """BOOLEAN over an event row: some rule or condition can read it at `at`."""
    by_window: dict[int | None, list[str]] = {}
    for t, window in sorted(found.items()):
        by_window.setdefault(window, []).append(t)
    parts = []
    for window, types in sorted(by_window.items(), key=lambda kv: (kv[0] is not None, kv[0] or 0)):
        test = f"type IN {q.text_list(types)}"
        parts.append(test if window is None else f"({test} AND {ts} > {at - window * 1_000_000})")
    return q.any_of(parts)
