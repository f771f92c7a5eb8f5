"""The rule model's dimensions as features: what the hand-written model said about the lead at time t.

Computed with the pure scorer's `scores_at`, the reference every other engine agrees with, so the
features at training equal what prediction computes for one lead. Only the dimension sums are needed
(no lifecycle replay), which keeps this at a few microseconds per event and snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from leadscore.domain.events import Event
from leadscore.domain.timeutil import from_micros
from leadscore.engine.timeline import Timeline
from leadscore.predictive.errors import DataError
from leadscore.predictive.history_sources import EVENTS, LEADS

if TYPE_CHECKING:
    import duckdb
    import numpy as np
    import pandas as pd

    from leadscore.engine.scorer import Scorer
    from leadscore.model.spec import ScoringModel

PREFIX = "rule_"
_EVENT_FIXED = {"lead_id", "type", "timestamp", "id"}


def column_names(model: ScoringModel) -> list[str]:
    return [f"{PREFIX}{d}" for d in model.dimension_names()] + [f"{PREFIX}total"]


def rules_scorer(model: ScoringModel) -> Scorer:
    from leadscore.engine.scorer import Scorer

    if model.predictive_dimensions():
        raise DataError(
            f"--model: model {model.name!r} has a predictive dimension; give a rules-only model as features"
        )
    return Scorer(model)


def values_at(scorer: Scorer, attributes: Mapping[str, Any], timeline: Timeline, at_us: int) -> dict[str, float]:
    scores = scorer.scores_at(attributes, timeline, at_us)
    return {f"{PREFIX}{k}": float(v) for k, v in scores.items()}


def _simple_columns(con: duckdb.DuckDBPyConnection, view: str, skip: set[str]) -> str:
    """`, "a", "b"` for the columns holding numbers, text, booleans or an event id: what rules compare.
    Date-time attributes are left out (rules on them are rare, and they would need a time-zone library)."""
    keep = []
    for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall():
        if name == "id" and "id" not in skip:
            keep.append('CAST("id" AS VARCHAR) AS "id"')
        elif name not in skip and not str(kind).startswith(("TIMESTAMP", "DATE", "TIME", "INTERVAL")):
            keep.append('"' + name.replace('"', '""') + '"')
    return "".join(", " + k for k in keep)


def rule_dimensions(con: duckdb.DuckDBPyConnection, model: ScoringModel, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Dimension sums at each (lead_id, t) of `rows`, in their order."""
    import numpy as np

    scorer = rules_scorer(model)
    con.register("_ls_rd_ids", rows[["lead_id"]].drop_duplicates())
    events: dict[str, list[Event]] = defaultdict(list)
    ev_cols = _simple_columns(con, EVENTS, _EVENT_FIXED)
    rel = con.sql(
        f"SELECT CAST(lead_id AS VARCHAR) AS lead_id, CAST(type AS VARCHAR) AS type, "
        f"epoch_us(CAST(timestamp AS TIMESTAMPTZ)) AS _ts{ev_cols} FROM {EVENTS} "
        "WHERE CAST(lead_id AS VARCHAR) IN (SELECT lead_id FROM _ls_rd_ids) ORDER BY lead_id, _ts"
    )
    reader = rel.to_arrow_reader(50_000)
    for batch in reader:
        for rec in batch.to_pylist():
            props = {k: v for k, v in rec.items() if k not in _EVENT_FIXED and k != "_ts" and v is not None}
            ident = rec.get("id")
            events[rec["lead_id"]].append(
                Event(
                    rec["lead_id"], rec["type"], from_micros(rec["_ts"]), props, None if ident is None else str(ident)
                )
            )
    attrs: dict[str, dict[str, Any]] = {}
    lead_cols = _simple_columns(con, LEADS, {"id"})
    for batch in con.sql(
        f"SELECT CAST(id AS VARCHAR) AS id{lead_cols} FROM {LEADS} "
        "WHERE CAST(id AS VARCHAR) IN (SELECT lead_id FROM _ls_rd_ids)"
    ).to_arrow_reader(50_000):
        for rec in batch.to_pylist():
            attrs[str(rec.pop("id"))] = {k: v for k, v in rec.items() if v is not None}
    con.unregister("_ls_rd_ids")
    names = column_names(model)
    out = {n: np.zeros(len(rows)) for n in names}
    timelines: dict[str, Timeline] = {}
    for i, (lead, t) in enumerate(zip(rows["lead_id"].astype(str), rows["t"].astype("int64"), strict=True)):
        tl = timelines.get(lead)
        if tl is None:
            tl = timelines[lead] = Timeline(events.get(lead, ()))
        for name, value in values_at(scorer, attrs.get(lead, {}), tl, int(t)).items():
            out[name][i] = value
    return out
