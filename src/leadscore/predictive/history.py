"""Training from history: snapshots of every lead at regular times, point-in-time features, a future label.

The frame is built in DuckDB (`snapshots.build_training_frame`) from the `ls_events` / `ls_leads` views
of `leadscore.predictive.history_sources`, optionally joined with the rule model's dimensions at each snapshot,
then trained with the same `train` as a flat table, split by snapshot time. What prediction needs to
rebuild the features (the FeatureSpec, the rule model) is stored in the artifact's metadata.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.domain.timeutil import from_micros
from leadscore.predictive.errors import DataError
from leadscore.predictive.history_sources import EVENTS, LEADS
from leadscore.predictive.pointintime import DAY_US, FeatureSpec, infer_spec
from leadscore.predictive.snapshots import build_training_frame, describe, snapshot_times

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from leadscore.model.spec import ScoringModel
    from leadscore.predictive.training import TrainingResult
    from leadscore.store.base import LeadStore

TIME = "t"
ATTRIBUTE_SAMPLE = 5000
_NUMERIC = ("INT", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "UBIGINT")


@dataclass(frozen=True)
class HistoryPlan:
    outcome: str
    horizon_days: int
    every_days: int
    spec: FeatureSpec
    times: list[datetime]


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    return {r[0]: str(r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()}


def plan(
    con: duckdb.DuckDBPyConnection, *, outcome: str, horizon_days: int, every_days: int, amount_property: str = "amount"
) -> HistoryPlan:
    """Choose features and snapshot times from what the data holds."""
    if horizon_days <= 0 or every_days <= 0:
        raise DataError("--horizon and --every must be positive durations")
    counts = dict(con.execute(f"SELECT type, count(*) FROM {EVENTS} GROUP BY type").fetchall())
    if outcome not in counts:
        known = ", ".join(sorted(counts)[:30])
        raise DataError(f"--outcome: no event of type {outcome!r} in the events (types: {known})")
    ev_cols = _columns(con, EVENTS)
    amount_types: list[str] = []
    if amount_property in ev_cols:
        rows = con.execute(
            f'SELECT type FROM {EVENTS} WHERE TRY_CAST("{amount_property}" AS DOUBLE) IS NOT NULL GROUP BY type'
        ).fetchall()
        amount_types = sorted(r[0] for r in rows if r[0] != outcome)
    lead_cols = _columns(con, LEADS)
    usable = [
        c for c, kind in lead_cols.items()
        if c != "id" and (kind.startswith(_NUMERIC) or kind in ("VARCHAR", "BOOLEAN"))
    ]  # fmt: skip
    samples: list[dict[str, Any]] = []
    if usable:
        cols = ", ".join(f'"{c}"' for c in usable)
        frame = con.execute(f"SELECT {cols} FROM {LEADS} USING SAMPLE {ATTRIBUTE_SAMPLE} ROWS").df()
        samples = [
            {str(k): v for k, v in row.items() if v is not None and not (isinstance(v, float) and math.isnan(v))}
            for row in frame.to_dict("records")
        ]
    spec = infer_spec(counts, samples, outcome_type=outcome, amount_types=amount_types)
    spec = FeatureSpec(**{**spec.__dict__, "amount_property": amount_property})
    lo_us, hi_us = con.execute(
        f"SELECT min(epoch_us(CAST(timestamp AS TIMESTAMPTZ))), max(epoch_us(CAST(timestamp AS TIMESTAMPTZ))) "
        f"FROM {EVENTS}"
    ).fetchall()[0]
    lo, hi = from_micros(int(lo_us)), from_micros(int(hi_us))
    start = _midnight(lo) + timedelta(days=every_days)
    times = snapshot_times(start, hi, every_days, horizon_days)
    if not times:
        raise DataError(
            f"the events span {lo:%Y-%m-%d} to {hi:%Y-%m-%d}: too short for a {horizon_days}-day horizon after "
            f"{every_days} days of history; shorten --horizon or --every"
        )
    return HistoryPlan(outcome, horizon_days, every_days, spec, times)


def _midnight(value: datetime) -> datetime:
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def build_frame(con: duckdb.DuckDBPyConnection, p: HistoryPlan, rules: ScoringModel | None = None) -> pd.DataFrame:
    """One row per (lead, snapshot time): features as of t, `label` (outcome in (t, t+H]), rule dimensions."""
    frame = build_training_frame(
        con, events=EVENTS, leads=LEADS, spec=p.spec, times=p.times, horizon_days=p.horizon_days
    )
    if rules is not None and len(frame):
        from leadscore.predictive.ruledims import rule_dimensions

        dims = rule_dimensions(con, rules, frame[["lead_id", TIME]])
        for name, values in dims.items():
            frame[name] = values
    return frame


def train_history(
    con: duckdb.DuckDBPyConnection,
    *,
    outcome: str,
    horizon_days: int,
    every_days: int,
    rules: ScoringModel | None = None,
    rules_source: str | None = None,
    seed: int = 42,
    refit: bool = False,
    progress: Callable[[str], None] | None = None,
) -> tuple[TrainingResult, dict[str, Any]]:
    """Plan, build the snapshot frame and train on it split by snapshot time. Returns the result and a
    summary of the frame (rows, leads, snapshots, positives) for the report."""
    from leadscore.predictive.training import train

    say = progress or (lambda _m: None)
    p = plan(con, outcome=outcome, horizon_days=horizon_days, every_days=every_days)
    say(f"building features for {len(p.times)} snapshots")
    frame = build_frame(con, p, rules)
    summary = describe(frame) if len(frame) else {"rows": 0}
    if not len(frame):
        raise DataError("no lead had history before any snapshot time; nothing to train on")
    result = train(
        frame, "label", exclude=["lead_id"], time=TIME, split="time", seed=seed, refit=refit,
        purge=horizon_days * DAY_US, progress=say,
    )  # fmt: skip
    history: dict[str, Any] = {
        "kind": "history",
        "outcome": outcome,
        "horizon_days": horizon_days,
        "every_days": every_days,
        "snapshots": [t.isoformat() for t in p.times],
        "frame": summary,
        "feature_spec": p.spec.to_dict(),
    }
    if rules is not None:
        from leadscore.model import model_version

        history["rules"] = {"name": rules.name, "version": model_version(rules), "source": rules_source}
    result.artifact.metadata["history"] = history
    return result, summary


def days(text: str, option: str) -> int:
    """A model-format duration (`90d`, `12w`, `3mo`) as whole days, with an error naming the option."""
    from leadscore.model.durations import parse_duration

    try:
        seconds = int(parse_duration(text))
    except ValueError as exc:
        raise DataError(f"{option}: {exc}") from None
    if seconds % 86_400:
        raise DataError(f"{option}: {text!r} is not a whole number of days")
    return seconds // 86_400


def connect_history(
    *, events: Path | None = None, leads: Path | None = None, store: LeadStore | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with `ls_events` / `ls_leads` from files or from a store the caller opened
    (and closes: everything is read into the connection before this returns)."""
    import duckdb

    from leadscore.predictive.history_sources import register_files, register_store

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if store is not None:
        if events is not None or leads is not None:
            raise DataError("give either --project or --events/--leads, not both")
        register_store(con, store)
    elif events is not None:
        register_files(con, events, leads)
    else:
        raise DataError("give --events FILE-or-DIR (and --leads) or --project DIR to train from history")
    return con
