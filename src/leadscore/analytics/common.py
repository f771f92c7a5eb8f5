"""What every report shares: the period and lead filters, the lifecycle's shape, portable SQL helpers.

Reports aggregate inside the database (SQLAlchemy Core that compiles for SQLite and PostgreSQL): the
store may hold a million leads and fifty million events, so nothing here loops over leads in Python.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from leadscore.domain.timeutil import from_micros, to_iso, to_micros
from leadscore.model.spec import ScoringModel
from leadscore.store.tables import leads, results

DAY_US = 86_400_000_000


class AnalyticsError(ValueError):
    """A report asked for something the model or the filters cannot give (unknown stage, bad range)."""


class ReportFilter(BaseModel):
    """The period and the leads a report looks at.

    `start` is inclusive and `end` exclusive. `labels` and `attributes` keep leads whose current label
    (of the stored result) or lead attribute equals the given text; `stage` and `playbook` likewise.
    """

    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime
    labels: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, str] = Field(default_factory=dict)
    stage: str | None = None
    playbook: str | None = None
    account: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ReportFilter:
        if self.end <= self.start:
            raise ValueError(
                f"the period is empty: --to ({to_iso(self.end)}) must be after --from ({to_iso(self.start)})"
            )
        return self

    @classmethod
    def last_days(cls, now: datetime, days: int = 365, **filters: Any) -> ReportFilter:
        return cls(start=now - timedelta(days=days), end=now, **filters)

    @property
    def start_us(self) -> int:
        return to_micros(self.start)

    @property
    def end_us(self) -> int:
        return to_micros(self.end)

    def has_lead_filters(self) -> bool:
        return bool(self.labels or self.attributes or self.stage or self.playbook or self.account)

    def describe(self) -> str:
        parts = [f"{to_iso(self.start)[:10]} to {to_iso(self.end)[:10]}"]
        parts += [f"{k}={v}" for k, v in {**self.labels, **self.attributes}.items()]
        parts += [
            f"{k}={v}" for k, v in (("stage", self.stage), ("playbook", self.playbook), ("account", self.account)) if v
        ]
        return ", ".join(parts)

    def lead_condition(self, lead_id: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        """`lead_id` belongs to a lead the filters keep (true when there are none)."""
        if not self.has_lead_filters():
            return sa.true()
        conds: list[sa.ColumnElement[bool]] = []
        for name, value in self.labels.items():
            conds.append(results.c.labels[name].as_string() == value)
        if self.stage:
            conds.append(results.c.stage == self.stage)
        if self.playbook:
            conds.append(results.c.playbook["name"].as_string() == self.playbook)
        lead_conds: list[sa.ColumnElement[bool]] = []
        for name, value in self.attributes.items():
            lead_conds.append(leads.c.attributes[name].as_string() == value)
        if self.account:
            lead_conds.append(leads.c.account == self.account)
        out: list[sa.ColumnElement[bool]] = []
        if conds:
            out.append(lead_id.in_(sa.select(results.c.lead_id).where(*conds)))
        if lead_conds:
            out.append(lead_id.in_(sa.select(leads.c.id).where(*lead_conds)))
        return sa.and_(*out)


class Funnel(BaseModel):
    """The lifecycle as reports see it: the success path in order, the exits, and the milestones."""

    stages: list[str]
    exits: list[str]
    mql: str | None
    sql: str | None
    won: str | None
    won_events: list[str]
    accept_events: list[str]
    reject_events: list[str]

    @classmethod
    def of(cls, model: ScoringModel) -> Funnel:
        lc = model.lifecycle
        if lc is None:
            return cls(
                stages=[], exits=[], mql=None, sql=None, won=None, won_events=[], accept_events=[], reject_events=[]
            )
        won = lc.stages[-1] if len(lc.stages) > 1 else None

        def event_types(to: str | None) -> list[str]:
            return sorted({t for tr in lc.transitions if tr.on and tr.to == to for t in tr.on})

        sql_stage = "sql" if "sql" in lc.stages else None
        recycled = next((s for s in lc.exits if s in ("recycled", "rejected")), None)
        return cls(
            stages=list(lc.stages),
            exits=list(lc.exits),
            mql="mql" if "mql" in lc.stages else None,
            sql=sql_stage,
            won=won,
            won_events=event_types(won),
            accept_events=event_types(sql_stage) or ["sales_accepted"],
            reject_events=event_types(recycled) or ["sales_rejected"],
        )

    def index_of(self, stage_col: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
        """Position of a stage on the success path; -1 for exits and unknown stages."""
        if not self.stages:
            return sa.literal(-1)
        return sa.case({s: i for i, s in enumerate(self.stages)}, value=stage_col, else_=-1)

    def position(self, stage: str | None) -> int | None:
        return self.stages.index(stage) if stage in self.stages else None


def int_div(a: sa.ColumnElement[Any], b: int) -> sa.ColumnElement[int]:
    """Integer division on both dialects (SQLAlchemy's `/` would make PostgreSQL divide as numeric)."""
    return sa.cast(a, sa.BigInteger).op("/")(b)


def rank_query(source: Any, group: str, value: str, percents: tuple[int, ...] = (50, 90)) -> sa.Select[Any]:
    """Rows (g, v, rn, n) of the values at the nearest ranks ceil(p/100 * n) of each group."""
    col, key = source.c[value], source.c[group]
    ranked = (
        sa.select(
            key.label("g"),
            col.label("v"),
            sa.func.row_number().over(partition_by=key, order_by=col).label("rn"),
            sa.func.count().over(partition_by=key).label("n"),
        )
        .where(col.is_not(None))
        .subquery()
    )
    wanted = [ranked.c.rn == int_div(ranked.c.n * p + 99, 100) for p in percents]
    return sa.select(ranked.c.g, ranked.c.v, ranked.c.rn, ranked.c.n).where(sa.or_(*wanted))


def pick_ranks(rows: Any, percents: tuple[int, ...] = (50, 90)) -> tuple[dict[Any, dict[int, float]], dict[Any, int]]:
    """Percentiles per group and the group sizes, from `rank_query` rows."""
    out: dict[Any, dict[int, float]] = {}
    sizes: dict[Any, int] = {}
    for g, v, rn, n in rows:
        sizes[g] = n
        for p in percents:
            if rn == (n * p + 99) // 100:
                out.setdefault(g, {})[p] = float(v)
    return out, sizes


def nearest_rank(
    conn: sa.Connection,
    source: Any,
    group: str,
    value: str,
    percents: tuple[int, ...] = (50, 90),
) -> dict[Any, dict[int, float]]:
    """Percentiles of `value` per `group`, by the nearest-rank rule (the value at rank ceil(p/100 * n)).

    One window query over the rows, so the database sorts each group once; exact on both dialects.
    """
    return pick_ranks(conn.execute(rank_query(source, group, value, percents)), percents)[0]


def days(us: float | None) -> float | None:
    return None if us is None else round(us / DAY_US, 2)


def rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def iso(us: int | None) -> str | None:
    return None if us is None else to_iso(from_micros(us))
