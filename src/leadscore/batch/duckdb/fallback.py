"""Leads the SQL cannot decide are scored by the pure scorer itself (exact by definition).

They are streamed in chunks of `CHUNK` leads: one query hands out the leads, one their events in
input order, both ordered by chunk, so that Python holds one chunk's domain objects at a time (and
worker processes a few chunks each) whatever the number of leads. Each result leaves as its
`Result.to_dict()` JSON text, which the engine keeps in a DuckDB table (which spills to disk).
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import from_micros
from leadscore.engine.predictors import Predictor
from leadscore.engine.scorer import Scorer
from leadscore.engine.timeline import Timeline
from leadscore.model.spec import ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.columns import SourceSchema

if TYPE_CHECKING:
    import duckdb

PARALLEL_FROM = 5_000
CHUNK = 2_000
CHUNKS = "_ls_fb_chunks"
Chunk = tuple[list[Lead], list[Event]]
Scored = list[tuple[str, str]]  # (lead id, result JSON)


def _value(row: Sequence[Any], idx: range) -> Any:
    for i in idx:
        if row[i] is not None:
            return row[i]
    return None


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    # through Arrow: timestamps arrive as aware datetimes without needing pytz
    table = con.sql(sql).to_arrow_table()
    return list(zip(*(col.to_pylist() for col in table.columns), strict=True))


def chunks(con: duckdb.DuckDBPyConnection, schema: SourceSchema, ids_table: str, size: int = CHUNK) -> Iterator[Chunk]:
    """The leads listed in `ids_table` (column lead_id) with all their events, `size` leads at a
    time. A lead id without a row in the leads is a lead without attributes (known from events).

    The leads and their events are first copied into tables sorted by chunk (DuckDB keeps them on
    disk past its memory limit); each chunk is then one query whose filter skips every other row
    group, so no result stays open between chunks (a connection serves one at a time)."""
    attrs = list(schema.leads.slots.items())
    lead_cols = [s.column for _, slots in attrs for s in slots]
    props = list(schema.events.slots.items())
    prop_cols = [s.column for _, slots in props for s in slots]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {CHUNKS} AS SELECT lead_id, "
        f"(row_number() OVER (ORDER BY lead_id) - 1) // {int(size)} AS _ls_chunk FROM {ids_table}"
    )
    sel = ", ".join(["c._ls_chunk", "c.lead_id", "l.id IS NOT NULL", *(f"l.{q.ident(c)}" for c in lead_cols)])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {CHUNKS}_leads AS SELECT {sel} FROM {CHUNKS} AS c "
        "LEFT JOIN leads AS l ON l.id = c.lead_id ORDER BY c._ls_chunk"
    )
    cols = ["c._ls_chunk", "e.lead_id", "e.type", 'epoch_us(e."timestamp")', "e.id"]
    sel = ", ".join([*cols, *(f"e.{q.ident(c)}" for c in prop_cols)])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {CHUNKS}_events AS SELECT {sel} FROM events AS e "
        f"JOIN {CHUNKS} AS c ON c.lead_id = e.lead_id ORDER BY c._ls_chunk, e._ls_ord"
    )
    n_chunks = int(con.execute(f"SELECT coalesce(max(_ls_chunk) + 1, 0) FROM {CHUNKS}").fetchall()[0][0])
    try:
        for k in range(n_chunks):
            leads: list[Lead] = []
            for row in _rows(con, f"SELECT * FROM {CHUNKS}_leads WHERE _ls_chunk = {k}"):
                values: dict[str, Any] = {}
                if row[2]:
                    pos = 3
                    for name, slots in attrs:
                        v = _value(row, range(pos, pos + len(slots)))
                        pos += len(slots)
                        if v is not None:
                            values[name] = v
                leads.append(Lead(str(row[1]), values))
            events: list[Event] = []
            for row in _rows(con, f"SELECT * FROM {CHUNKS}_events WHERE _ls_chunk = {k}"):
                values = {}
                pos = 5
                for name, slots in props:
                    v = _value(row, range(pos, pos + len(slots)))
                    pos += len(slots)
                    if v is not None:
                        values[name] = v
                events.append(Event(str(row[1]), str(row[2]), from_micros(int(row[3])), values, row[4]))
            yield leads, events
    finally:
        con.execute(f"DROP TABLE IF EXISTS {CHUNKS}_events")
        con.execute(f"DROP TABLE IF EXISTS {CHUNKS}_leads")


def _score(scorer: Scorer, chunk: Chunk, at: int) -> Scored:
    leads, events = chunk
    grouped: dict[str, list[Event]] = {}
    for e in events:
        grouped.setdefault(e.lead_id, []).append(e)
    out: Scored = []
    for lead in leads:
        result = scorer.score_timeline(lead, Timeline(grouped.get(lead.id, ()), until=at), at)
        out.append((lead.id, json.dumps(result.to_dict(), separators=(",", ":"))))
    return out


def _score_chunk(args: tuple[ScoringModel, Mapping[str, Predictor] | None, Chunk, int]) -> Scored:
    model, predictors, chunk, at = args
    return _score(Scorer(model, predictors), chunk, at)


def score(
    model: ScoringModel,
    parts: Iterator[Chunk],
    at: int,
    n_leads: int,
    workers: int | None,
    predictors: Mapping[str, Predictor] | None = None,
) -> Iterator[Scored]:
    """The pure scorer over each chunk, in order; in worker processes when there are many leads, with
    at most two chunks per worker in flight (memory stays bounded)."""
    if n_leads < PARALLEL_FROM or (workers or 0) == 1:
        scorer = Scorer(model, predictors)
        for chunk in parts:
            yield _score(scorer, chunk, at)
        return
    n = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=n) as pool:
        flight: deque[Future[Scored]] = deque()
        for chunk in parts:
            flight.append(pool.submit(_score_chunk, (model, predictors, chunk, at)))
            if len(flight) >= 2 * n:
                yield flight.popleft().result()
        while flight:
            yield flight.popleft().result()
