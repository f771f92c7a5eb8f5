"""Score quality: does a higher score really convert more?

The cohort is the period's leads (facts.py). A lead converted when it reached the target stage (by
default the won stage) before the period's end. Its score is the one sales saw before it converted: the
last score-history entry before the conversion, or the current score when there is none (and for leads
that did not convert), so a won lead's score is not inflated by what happened after the deal.

- bands: conversion per score band (lower bound inclusive);
- labels: conversion per current label of each label set;
- lift: leads in tenths by score (highest first), each tenth's conversion over the cohort's rate;
- distribution over time: per month, the leads whose score changed that month, by band of their last
  score in the month;
- missed: the converted leads with the lowest scores (what the model did not see coming).
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel

from leadscore.analytics.common import AnalyticsError, Funnel, ReportFilter, rate
from leadscore.analytics.quality_sources import (
    SCORE_ENTRIES,
    score_entries,
    scored_in_duckdb,
    scored_in_store,
)
from leadscore.analytics.tables import Chart, Column, ReportMeta, Series, Table
from leadscore.domain.timeutil import from_micros, to_iso, to_micros
from leadscore.model.spec import ScoringModel
from leadscore.store.tables import results

if TYPE_CHECKING:
    from leadscore.analytics.history import ArrowHistory

DEFAULT_BANDS = (0.0, 25.0, 50.0, 100.0, 150.0, 200.0, 300.0)


class BandRow(BaseModel):
    band: str
    low: float | None
    leads: int
    converted: int
    conversion: float | None


class LabelRow(BaseModel):
    label_set: str
    label: str
    leads: int
    converted: int
    conversion: float | None


class LiftRow(BaseModel):
    tenth: int
    leads: int
    min_score: float | None
    converted: int
    conversion: float | None
    lift: float | None


class MonthRow(BaseModel):
    month: str
    band: str
    leads: int


class MissedRow(BaseModel):
    lead_id: str
    score: float
    converted_at: str
    labels: dict[str, Any]


class QualityReport(BaseModel):
    meta: ReportMeta
    target: str
    cohort: int
    converted: int
    base_rate: float | None
    bands: list[BandRow]
    labels: list[LabelRow]
    lift: list[LiftRow]
    distribution: list[MonthRow]
    missed: list[MissedRow]

    def tables(self) -> list[Table]:
        conv = f"Reached {self.target}"
        return [
            Table(
                name="bands",
                title=f"Conversion to {self.target} by score band",
                columns=[
                    Column(key="band", title="Score band"),
                    Column(key="leads", title="Leads", kind="int"),
                    Column(key="converted", title=conv, kind="int"),
                    Column(key="conversion", title="Conversion", kind="rate"),
                ],
                rows=[r.model_dump() for r in self.bands],
            ),
            Table(
                name="labels",
                title=f"Conversion to {self.target} by label",
                columns=[
                    Column(key="label_set", title="Label set"),
                    Column(key="label", title="Label"),
                    Column(key="leads", title="Leads", kind="int"),
                    Column(key="converted", title=conv, kind="int"),
                    Column(key="conversion", title="Conversion", kind="rate"),
                ],
                rows=[r.model_dump() for r in self.labels],
            ),
            Table(
                name="lift",
                title="Lift by score tenth (1 = highest scores)",
                columns=[
                    Column(key="tenth", title="Tenth", kind="int"),
                    Column(key="leads", title="Leads", kind="int"),
                    Column(key="min_score", title="Lowest score", kind="score"),
                    Column(key="converted", title=conv, kind="int"),
                    Column(key="conversion", title="Conversion", kind="rate"),
                    Column(key="lift", title="Lift", kind="ratio"),
                ],
                rows=[r.model_dump() for r in self.lift],
            ),
            Table(
                name="distribution",
                title="Score distribution by month (leads whose score changed)",
                columns=[
                    Column(key="month", title="Month"),
                    Column(key="band", title="Score band"),
                    Column(key="leads", title="Leads", kind="int"),
                ],
                rows=[r.model_dump() for r in self.distribution],
            ),
            Table(
                name="missed",
                title="Converted with the lowest scores (what the model missed)",
                columns=[
                    Column(key="lead_id", title="Lead"),
                    Column(key="score", title="Score before", kind="score"),
                    Column(key="converted_at", title=f"Reached {self.target}"),
                    Column(key="labels", title="Labels"),
                ],
                rows=[
                    {**r.model_dump(), "labels": ", ".join(f"{k}: {v}" for k, v in r.labels.items())}
                    for r in self.missed
                ],
                empty=f"No lead reached {self.target} in this period.",
            ),
        ]

    def charts(self) -> list[Chart]:
        months = sorted({r.month for r in self.distribution})
        band_names = [b.band for b in self.bands]
        dist = {(r.month, r.band): r.leads for r in self.distribution}
        return [
            Chart(
                name="bands",
                title=f"Conversion to {self.target} by score band",
                kind="bar",
                x_label="Score band",
                y_label="Conversion",
                unit="%",
                series=[Series(name="conversion", points=[(b.band, _pct(b.conversion)) for b in self.bands])],
                reference=_pct(self.base_rate),
            ),
            Chart(
                name="lift",
                title="Lift by score tenth",
                kind="bar",
                x_label="Tenth (1 = highest scores)",
                y_label="Lift over the average",
                unit="x",
                series=[Series(name="lift", points=[(str(r.tenth), r.lift) for r in self.lift])],
                reference=1.0,
            ),
            Chart(
                name="distribution",
                title="Score distribution by month",
                kind="line",
                x_label="Month",
                y_label="Leads",
                series=[Series(name=b, points=[(m, float(dist.get((m, b), 0))) for m in months]) for b in band_names],
            ),
        ]


def _pct(x: float | None) -> float | None:
    return None if x is None else round(100 * x, 2)


def _band_names(edges: tuple[float, ...]) -> list[tuple[str, float | None]]:
    out: list[tuple[str, float | None]] = [(f"< {edges[0]:g}", None)]
    for lo, hi in itertools.pairwise(edges):
        out.append((f"{lo:g}–{hi:g}", lo))
    out.append((f"≥ {edges[-1]:g}", edges[-1]))
    return out


def _band_expr(score: Any, edges: tuple[float, ...]) -> Any:
    """Band number: 0 below the first edge, i for [edge i-1, edge i), len(edges) at or above the last."""
    return sa.case(*[(score < e, i) for i, e in enumerate(edges)], else_=len(edges))


def month_starts(start: datetime, end: datetime) -> list[int]:
    """Calendar-month boundaries covering [start, end), clipped to the period, in micros."""
    bounds = [to_micros(start)]
    y, m = start.year, start.month
    while True:
        m += 1
        if m > 12:
            y, m = y + 1, 1
        b = start.replace(year=y, month=m, day=1, hour=0, minute=0, second=0, microsecond=0)
        if b >= end:
            break
        bounds.append(to_micros(b))
    bounds.append(to_micros(end))
    return bounds


def quality_report(
    conn: sa.Connection,
    model: ScoringModel,
    funnel: Funnel,
    f: ReportFilter,
    meta: ReportMeta,
    target: str | None = None,
    edges: tuple[float, ...] = DEFAULT_BANDS,
    missed: int = 20,
    history: ArrowHistory | None = None,
) -> QualityReport:
    """`history`: the moves read into DuckDB with the tables `quality_history` adds; then the
    statements run there (the same statements, over tables of the same columns)."""
    target = target or funnel.won or funnel.sql
    if not funnel.stages or target is None:
        meta.notes.append("The active model has no lifecycle: conversions cannot be counted.")
        return QualityReport(
            meta=meta,
            target=target or "-",
            cohort=0,
            converted=0,
            base_rate=None,
            bands=[],
            labels=[],
            lift=[],
            distribution=[],
            missed=[],
        )
    if target not in funnel.stages:
        raise AnalyticsError(f"--target {target!r} is no stage of the path ({', '.join(funnel.stages)})")
    edges = tuple(sorted(set(edges)))
    if not edges:
        raise AnalyticsError("--bands needs at least one edge")
    label_sets = list(model.labels)
    if history is None:
        scored = scored_in_store(funnel, f, target, label_sets)
    else:
        scored = scored_in_duckdb(funnel, f, target, label_sets, history)
    s = scored.c
    # One statement: the cohort, bands, labels, tenths and the missed leads all read `scored`, which the
    # database materialises once (a CTE used several times) instead of once per question.
    txt, num = sa.cast(sa.null(), sa.String), sa.cast(sa.null(), sa.Float)
    conv_sum = sa.func.coalesce(sa.func.sum(s.conv), 0)
    band = _band_expr(s.score, edges)
    parts: list[Any] = [
        sa.select(sa.literal("cohort"), txt, txt, sa.func.count(), conv_sum, num),
        sa.select(sa.literal("band"), sa.cast(band, sa.String), txt, sa.func.count(), conv_sum, num).group_by(band),
    ]
    for i, set_name in enumerate(label_sets):
        value = sa.func.coalesce(s[f"label_{i}"], "(none)")
        parts.append(
            sa.select(sa.literal("label"), sa.literal(set_name), value, sa.func.count(), conv_sum, num).group_by(value)
        )
    tenth = sa.func.ntile(10).over(order_by=(s.score.desc(), s.lead_id)).label("tenth")
    tenths = sa.select(tenth, s.score, s.conv).subquery()
    parts.append(
        sa.select(
            sa.literal("lift"),
            sa.cast(tenths.c.tenth, sa.String),
            txt,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(tenths.c.conv), 0),
            sa.func.min(tenths.c.score),
        ).group_by(tenths.c.tenth)
    )
    low = (
        sa.select(s.lead_id, s.score, s.target_at)
        .where(s.conv == 1)
        .order_by(s.score, s.lead_id)
        .limit(missed)
        .subquery()
    )
    parts.append(sa.select(sa.literal("missed"), low.c.lead_id, txt, low.c.target_at, sa.literal(0), low.c.score))
    cohort = conv_total = 0
    by_band: dict[int, tuple[int, int]] = {}
    label_rows: list[LabelRow] = []
    lift_raw: list[tuple[int, int, int, float | None]] = []
    missed_raw: list[tuple[str, float, int]] = []
    statement = sa.union_all(*parts)
    for kind, k1, k2, n, c, v in history.rows(statement) if history is not None else conn.execute(statement):
        if kind == "cohort":
            cohort, conv_total = int(n), int(c or 0)
        elif kind == "band":
            by_band[int(k1)] = (int(n), int(c or 0))
        elif kind == "label":
            label_rows.append(
                LabelRow(label_set=k1, label=k2, leads=n, converted=int(c or 0), conversion=rate(int(c or 0), n))
            )
        elif kind == "lift":
            lift_raw.append((int(k1), int(n), int(c or 0), v))
        else:
            missed_raw.append((k1, float(v), int(n)))
    # the labels of the few missed leads, read apart (their JSON need not travel with every lead)
    ids = [lead_id for lead_id, _, _ in missed_raw]
    labels_of = dict(
        conn.execute(sa.select(results.c.lead_id, results.c.labels).where(results.c.lead_id.in_(ids))).all()
    )
    missed_rows = [
        MissedRow(
            lead_id=lead_id, score=score, converted_at=to_iso(from_micros(at)), labels=labels_of.get(lead_id) or {}
        )
        for lead_id, score, at in missed_raw
    ]
    base = rate(conv_total, cohort)
    bands = []
    for i, (name, low_edge) in enumerate(_band_names(edges)):
        n, c = by_band.get(i, (0, 0))
        bands.append(BandRow(band=name, low=low_edge, leads=n, converted=c, conversion=rate(c, n)))
    order = {name: i for i, name in enumerate(model.labels)}
    label_rows.sort(key=lambda r: (order.get(r.label_set, 0), r.label))
    lift = []
    for t, n, c, lowest in sorted(lift_raw):
        r = rate(c, n)
        lift.append(
            LiftRow(
                tenth=t,
                leads=n,
                min_score=lowest,
                converted=c,
                conversion=r,
                lift=None if r is None or not base else round(r / base, 4),
            )
        )
    missed_rows.sort(key=lambda m: (m.score, m.lead_id))
    return QualityReport(
        meta=meta,
        target=target,
        cohort=cohort,
        converted=int(conv_total),
        base_rate=base,
        bands=bands,
        labels=label_rows,
        lift=lift,
        distribution=_distribution(conn, f, edges, history),
        missed=missed_rows,
    )


def _distribution(
    conn: sa.Connection, f: ReportFilter, edges: tuple[float, ...], history: ArrowHistory | None = None
) -> list[MonthRow]:
    """A lead's last score of a month is its score-history entry whose next entry (in the lead's time
    order) falls in a later month or does not exist. The window reads the history in the order of the
    `ix_score_history_lead_at` index, so nothing is sorted but the few (month, band) groups."""
    bounds = month_starts(f.start, f.end)

    def month_of(at: Any) -> Any:
        return sa.case(*[(at < b, i) for i, b in enumerate(bounds[1:])], else_=len(bounds) - 2)

    sh = (SCORE_ENTRIES if history is not None else score_entries(f).subquery("entries")).c
    entries = sa.select(
        sh.at,
        sh.score,
        sa.func.lead(sh.at).over(partition_by=sh.lead_id, order_by=(sh.at, sh.id)).label("next_at"),
    ).subquery()
    e = entries.c
    month = month_of(e.at)
    last = sa.select(month.label("month"), e.score).where(sa.or_(e.next_at.is_(None), month_of(e.next_at) != month))
    lasts = last.subquery()
    band = _band_expr(lasts.c.score, edges)
    names = _band_names(edges)
    statement = (
        sa.select(lasts.c.month, band, sa.func.count()).group_by(lasts.c.month, band).order_by(lasts.c.month, band)
    )
    rows = history.rows(statement) if history is not None else conn.execute(statement)
    return [MonthRow(month=to_iso(from_micros(bounds[m]))[:7], band=names[b][0], leads=n) for m, b, n in rows]
