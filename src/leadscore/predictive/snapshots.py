"""Training data from history: snapshots of every lead at chosen times, features as of each time.

A snapshot (lead, t) exists when the lead had been seen by t and had not yet reached the outcome.
Its label says whether the outcome event came within the horizon H after t: (t, t + H]. Features
look only at events with ts <= t (the same definitions as `pointintime.features_at`, computed in one
DuckDB pass over all snapshots), so nothing of the future leaks into training.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from leadscore.domain.timeutil import to_micros
from leadscore.predictive.pointintime import DAY_US, FeatureSpec

if TYPE_CHECKING:
    import duckdb
    import pandas as pd


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def feature_sql(spec: FeatureSpec, events: str, snapshots: str, horizon_days: int | None) -> str:
    """SQL over `events(lead_id, type, ts BIGINT micros, amount DOUBLE)` and `snapshots(lead_id, t BIGINT)`."""
    sel = [
        "count(*) FILTER (WHERE e.ts <= s.t) AS n_events_all",
        f"count(*) FILTER (WHERE e.ts <= s.t AND e.ts > s.t - {30 * DAY_US}) AS n_events_30d",
        f"(s.t - min(e.ts) FILTER (WHERE e.ts <= s.t)) / {DAY_US}.0 AS days_since_first_event",
        f"(s.t - max(e.ts) FILTER (WHERE e.ts <= s.t)) / {DAY_US}.0 AS days_since_last_event",
    ]
    for t in spec.event_types:
        is_t = f"e.type = {_lit(t)} AND e.ts <= s.t"
        for w in spec.windows_days:
            sel.append(f"count(*) FILTER (WHERE {is_t} AND e.ts > s.t - {w * DAY_US}) AS {_q(f'n_{t}_{w}d')}")
        sel.append(f"count(*) FILTER (WHERE {is_t}) AS {_q(f'n_{t}_all')}")
        sel.append(f"(s.t - max(e.ts) FILTER (WHERE {is_t})) / {DAY_US}.0 AS {_q(f'days_since_{t}')}")
    if spec.amount_types:
        types = ", ".join(_lit(t) for t in spec.amount_types)
        has = f"e.type IN ({types}) AND e.amount IS NOT NULL AND e.ts <= s.t"
        prop = spec.amount_property
        for w in spec.windows_days:
            sel.append(
                f"coalesce(sum(e.amount) FILTER (WHERE {has} AND e.ts > s.t - {w * DAY_US}), 0.0) "
                f"AS {_q(f'{prop}_{w}d')}"
            )
        sel.append(f"coalesce(sum(e.amount) FILTER (WHERE {has}), 0.0) AS {_q(f'{prop}_all')}")
    reach = "s.t"
    if horizon_days is not None:
        h = horizon_days * DAY_US
        outcome = _lit(spec.outcome_type)
        sel.append(
            f"(count(*) FILTER (WHERE e.type = {outcome} AND e.ts > s.t AND e.ts <= s.t + {h}) > 0)::INTEGER AS label"
        )
        reach = f"s.t + {h}"
    return (
        f"SELECT s.lead_id, s.t, {', '.join(sel)} FROM {snapshots} s "
        f"LEFT JOIN {events} e ON e.lead_id = s.lead_id AND e.ts <= {reach} GROUP BY s.lead_id, s.t"
    )


def build_training_frame(
    con: duckdb.DuckDBPyConnection,
    *,
    events: str,
    leads: str,
    spec: FeatureSpec,
    times: Sequence[datetime],
    horizon_days: int,
) -> pd.DataFrame:
    """One row per eligible (lead, snapshot time) with features, attributes, `label` and `t`.

    `events` and `leads` are SQL relations (a table name or `read_parquet('dir/*.parquet')`): events need
    lead_id, type, timestamp and, if the spec uses it, the amount property; leads need `id`.
    """
    cur = con  # registered views are local to the connection, so no cursor() here
    amount = _q(spec.amount_property)
    cols = {r[0] for r in cur.execute(f"DESCRIBE SELECT * FROM {events}").fetchall()}
    amount_expr = f"TRY_CAST({amount} AS DOUBLE)" if spec.amount_property in cols else "NULL::DOUBLE"
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE _ev AS SELECT CAST(lead_id AS VARCHAR) AS lead_id, type, "
        f"epoch_us(CAST(timestamp AS TIMESTAMPTZ)) AS ts, {amount_expr} AS amount FROM {events}"
    )
    snaps = ", ".join(f"({to_micros(t)})" for t in times)
    outcome = _lit(spec.outcome_type)
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _snap AS "
        "WITH firsts AS (SELECT lead_id, min(ts) AS first_ts, "
        f"min(ts) FILTER (WHERE type = {outcome}) AS won_ts FROM _ev GROUP BY lead_id), "
        f"times(t) AS (VALUES {snaps}) "
        "SELECT f.lead_id, times.t FROM firsts f, times "
        "WHERE f.first_ts <= times.t AND (f.won_ts IS NULL OR f.won_ts > times.t)"
    )
    attrs = [*spec.numeric_attributes, *spec.categorical_attributes]
    lead_cols = {r[0] for r in cur.execute(f"DESCRIBE SELECT * FROM {leads}").fetchall()}
    attr_sel = []
    for a in spec.numeric_attributes:
        attr_sel.append(
            f"TRY_CAST(l.{_q(a)} AS DOUBLE) AS {_q('attr_' + a)}"
            if a in lead_cols
            else f"NULL::DOUBLE AS {_q('attr_' + a)}"
        )
    for a in spec.categorical_attributes:
        attr_sel.append(
            f"CAST(l.{_q(a)} AS VARCHAR) AS {_q('attr_' + a)}"
            if a in lead_cols
            else f"NULL::VARCHAR AS {_q('attr_' + a)}"
        )
    features = feature_sql(spec, "_ev", "_snap", horizon_days)
    extra = (", " + ", ".join(attr_sel)) if attrs else ""
    sql = (
        f"SELECT f.*{extra} FROM ({features}) f "
        f"LEFT JOIN {leads} l ON CAST(l.id AS VARCHAR) = f.lead_id ORDER BY f.t, f.lead_id"
    )
    frame = cur.execute(sql).df()
    cur.execute("DROP TABLE IF EXISTS _ev")
    cur.execute("DROP TABLE IF EXISTS _snap")
    return frame


def snapshot_times(start: datetime, end: datetime, every_days: int, horizon_days: int) -> list[datetime]:
    """Snapshot instants from `start` every `every_days`, leaving a full horizon before `end`."""
    from datetime import timedelta

    out: list[datetime] = []
    t = start
    last = end - timedelta(days=horizon_days)
    while t <= last:
        out.append(t)
        t += timedelta(days=every_days)
    return out


def describe(frame: Any) -> dict[str, Any]:
    """Counts for reports: snapshots, leads, positives."""
    return {
        "rows": len(frame),
        "leads": int(frame["lead_id"].nunique()),
        "snapshots": int(frame["t"].nunique()),
        "positives": int(frame["label"].sum()) if "label" in frame else None,
    }
