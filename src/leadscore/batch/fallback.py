"""Leads the SQL cannot decide are scored by the pure scorer itself (exact by definition).

Their rows are read back from DuckDB in input order and turned into domain objects; large numbers
of them are scored in worker processes, each with its own compiled scorer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from leadscore.batch import sqltext as q
from leadscore.batch.schema import SourceSchema
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.result import Result
from leadscore.domain.timeutil import from_micros
from leadscore.engine.predictors import Predictor
from leadscore.engine.scorer import Scorer
from leadscore.model.spec import ScoringModel

if TYPE_CHECKING:
    import duckdb

PARALLEL_FROM = 5_000
CHUNK = 2_000


def _value(row: Sequence[Any], idx: list[int]) -> Any:
    for i in idx:
        if row[i] is not None:
            return row[i]
    return None


def load(con: duckdb.DuckDBPyConnection, schema: SourceSchema, ids_table: str) -> tuple[list[Lead], list[Event]]:
    """Leads listed in `ids_table` (column lead_id) and all their events, in input order."""
    attrs = list(schema.leads.slots.items())
    lead_cols = [s.column for _, slots in attrs for s in slots]
    sel = ", ".join(["id", *(q.ident(c) for c in lead_cols)])
    leads: list[Lead] = []
    # through Arrow: timestamps arrive as aware datetimes without needing pytz
    lead_rows = con.sql(f"SELECT {sel} FROM leads WHERE id IN (SELECT lead_id FROM {ids_table})").to_arrow_table()
    for row in zip(*(col.to_pylist() for col in lead_rows.columns), strict=True):
        values: dict[str, Any] = {}
        pos = 1
        for name, slots in attrs:
            v = _value(row, list(range(pos, pos + len(slots))))
            pos += len(slots)
            if v is not None:
                values[name] = v
        leads.append(Lead(str(row[0]), values))
    known = {lead.id for lead in leads}
    for (lead_id,) in con.execute(f"SELECT lead_id FROM {ids_table}").fetchall():
        if lead_id not in known:
            leads.append(Lead(str(lead_id)))  # known only from its events

    props = list(schema.events.slots.items())
    prop_cols = [s.column for _, slots in props for s in slots]
    sel = ", ".join(["lead_id", "type", 'epoch_us("timestamp")', "id", *(q.ident(c) for c in prop_cols)])
    events: list[Event] = []
    reader = con.sql(
        f"SELECT {sel} FROM events WHERE lead_id IN (SELECT lead_id FROM {ids_table}) ORDER BY _ls_ord"
    ).to_arrow_reader()
    for chunk in reader:
        for row in zip(*(col.to_pylist() for col in chunk.columns), strict=True):
            values = {}
            pos = 4
            for name, slots in props:
                v = _value(row, list(range(pos, pos + len(slots))))
                pos += len(slots)
                if v is not None:
                    values[name] = v
            events.append(Event(str(row[0]), str(row[1]), from_micros(int(row[2])), values, row[3]))
    return leads, events


def _score_chunk(
    args: tuple[ScoringModel, list[Lead], list[Event], int, Mapping[str, Predictor] | None],
) -> list[Result]:
    model, leads, events, at, predictors = args
    return Scorer(model, predictors).score_many(leads, events, from_micros(at))


def score(
    model: ScoringModel,
    leads: list[Lead],
    events: Iterable[Event],
    at: int,
    workers: int | None,
    predictors: Mapping[str, Predictor] | None = None,
) -> list[Result]:
    """The pure scorer over these leads, in parallel processes when there are many."""
    if len(leads) < PARALLEL_FROM or (workers or 0) == 1:
        return Scorer(model, predictors).score_many(leads, events, from_micros(at))
    by_lead: dict[str, list[Event]] = {}
    for e in events:
        by_lead.setdefault(e.lead_id, []).append(e)
    chunks = []
    for i in range(0, len(leads), CHUNK):
        part = leads[i : i + CHUNK]
        chunks.append((model, part, [e for lead in part for e in by_lead.get(lead.id, ())], at, predictors))
    out: list[Result] = []
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        for results in pool.map(_score_chunk, chunks):
            out.extend(results)
    return out
