"""Domain objects as the Arrow tables the batch engine reads (typed columns; mixed kinds split)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.engine.values import kind

_TYPES = {"num": pa.float64(), "str": pa.string(), "bool": pa.bool_()}


def _columns(rows: Sequence[dict[str, Any]]) -> dict[str, pa.Array]:
    kinds: dict[str, set[str]] = {}
    for row in rows:
        for k, v in row.items():
            kinds.setdefault(k, set()).add(kind(v))
    out: dict[str, pa.Array] = {}
    for name, ks in kinds.items():
        split = len(ks) > 1
        for k in sorted(ks):
            col = f"{name}::{k}" if split else name
            values = [r.get(name) if r.get(name) is not None and kind(r.get(name)) == k else None for r in rows]
            typ = _TYPES[k]
            if k == "num" and all(isinstance(v, int) for v in values if v is not None):
                typ = pa.int64()
            out[col] = pa.array(values, typ)
    return out


def leads_table(leads: Iterable[Lead]) -> pa.Table:
    leads = list(leads)
    cols = {"id": pa.array([lead.id for lead in leads], pa.string())}
    cols.update(_columns([dict(lead.attributes) for lead in leads]))
    return pa.table(cols)


def events_table(events: Iterable[Event], with_ids: bool = True) -> pa.Table:
    events = list(events)
    cols: dict[str, pa.Array] = {}
    if with_ids:
        cols["id"] = pa.array([e.id for e in events], pa.string())
    cols["lead_id"] = pa.array([e.lead_id for e in events], pa.string())
    cols["type"] = pa.array([e.type for e in events], pa.string())
    cols["timestamp"] = pa.array([e.ts for e in events], pa.timestamp("us", tz="UTC"))
    cols.update(_columns([dict(e.properties) for e in events]))
    if not events:
        return pa.table(
            {k: pa.array([], pa.string()) for k in ("id", "lead_id", "type")}
            | {"timestamp": pa.array([], pa.timestamp("us", tz="UTC"))}
        )
    return pa.table(cols)
