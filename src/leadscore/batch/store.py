"""The batch engine over a lead store: the store's leads and events exported into Arrow (streamed
with SQLAlchemy, so it works on SQLite and PostgreSQL alike) and scored in DuckDB.

Used by `model plan` (`store.maintenance.score_all`) when the model needs nothing the batch engine
does not produce: no triggers (they need each lead's stage history) and no predictive dimensions.
Event ids are the store's event keys, unique by the log's constraint, so no duplicate pass runs;
input order is the log's sequence, as `load_timelines` orders ties.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from leadscore.domain.result import Result
from leadscore.model.spec import ScoringModel

if TYPE_CHECKING:
    import pyarrow as pa

    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator, Rescored

MAX_EXACT_INT = 2**53
_KINDS = ("num", "str", "bool")


class Unsupported(Exception):
    """Values the typed columns cannot hold exactly (nested or huge numbers): use the pure scorer."""


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        if abs(value) > MAX_EXACT_INT:
            raise Unsupported(f"integer {value} does not fit a double exactly")
        return "num"
    if isinstance(value, float):
        return "num"
    if isinstance(value, str):
        return "str"
    raise Unsupported(f"value {value!r} is not a scalar")


def _split(rows: list[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Per key and kind (`key::num` ...), one column; None where a row has another kind or no value."""
    cols: dict[str, list[Any]] = {}
    for i, values in enumerate(rows):
        for key, value in values.items():
            if value is None:
                continue
            name = f"{key}::{_kind(value)}"
            col = cols.get(name)
            if col is None:
                col = cols[name] = [None] * len(rows)
            col[i] = float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    return cols


def _arrow(base: dict[str, Any], typed: dict[str, list[Any]]) -> pa.Table:
    import pyarrow as pa

    kinds = {"num": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
    arrays = dict(base)
    for name, values in typed.items():
        arrays[name] = pa.array(values, kinds[name.rsplit("::", 1)[1]])
    return pa.table(arrays)


def export(store: LeadStore) -> tuple[pa.Table, pa.Table]:
    """(leads, events) of the whole store as the batch engine reads them."""
    import pyarrow as pa

    from leadscore.store.tables import events, leads

    with store.read() as conn:
        lead_rows = list(conn.execute(sa.select(leads.c.id, leads.c.attributes).order_by(leads.c.id)))
        query = sa.select(events.c.seq, events.c.event_key, events.c.lead_id, events.c.type, events.c.ts)
        ev_rows = list(conn.execute(query.add_columns(events.c.properties).order_by(events.c.seq)))
    lead_table = _arrow(
        {"id": pa.array([r.id for r in lead_rows], pa.string())},
        _split([r.attributes or {} for r in lead_rows]),
    )
    ev_table = _arrow(
        {
            "lead_id": pa.array([r.lead_id for r in ev_rows], pa.string()),
            "type": pa.array([r.type for r in ev_rows], pa.string()),
            "timestamp": pa.array([r.ts for r in ev_rows], pa.timestamp("us", tz="UTC")),
            "id": pa.array([r.event_key for r in ev_rows], pa.string()),
            "_ls_ord": pa.array([r.seq for r in ev_rows], pa.int64()),
        },
        _split([r.properties or {} for r in ev_rows]),
    )
    return lead_table, ev_table


def eligible(model: ScoringModel, evaluator: Evaluator) -> bool:
    return not model.triggers and not evaluator.scorer.predictive


def score_store(store: LeadStore, evaluator: Evaluator, at: int, batch_size: int = 5000) -> Iterator[Rescored] | None:
    """Every stored lead scored by the batch engine, in batches shaped like `score_all`'s (results and
    previous results kept, nothing written); None when the model or the data needs the pure scorer."""
    from leadscore.batch.engine import BatchRun
    from leadscore.domain.timeutil import from_micros

    if not eligible(evaluator.model, evaluator):
        return None
    try:
        lead_table, ev_table = export(store)
    except Unsupported:
        return None
    run = BatchRun(evaluator.model, lead_table, ev_table, from_micros(at), dedupe="never", event_leads=False)
    results = sorted((Result.from_dict(d) for d in run.to_dicts()), key=lambda r: r.lead_id)
    return _batches(store, results, batch_size)


def _batches(store: LeadStore, results: list[Result], batch_size: int) -> Iterator[Rescored]:
    from leadscore.store.codec import result_of
    from leadscore.store.pipeline import Rescored, _differs
    from leadscore.store.results_repo import load_result_rows

    for part in _chunks(results, batch_size):
        with store.read() as conn:
            previous = load_result_rows(conn, [r.lead_id for r in part])
        done = Rescored(leads=len(part), results=list(part))
        done.previous = {k: result_of(row) for k, row in previous.items()}
        done.changed = sum(1 for r in part if _differs(previous.get(r.lead_id), r))
        yield done


def _chunks(items: list[Result], size: int) -> Iterable[list[Result]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
