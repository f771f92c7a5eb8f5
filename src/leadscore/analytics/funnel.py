"""The funnel: leads per stage, conversion to later stages, exits and from where, time in stage, velocity.

Everything is read from the stage history (the audit log of every move, with its cause), so the report
can be re-run for any past period. A lead is counted in the stages it actually entered: a lead that
entered at `sql` counts at `sql`, not at `lead` or `mql`.

- entered: distinct leads with a move into the stage inside the period.
- advanced: of those, the leads that later (before the period's end) reached a later stage of the path.
- exited: of those, the leads whose next move (before the end) went to an exit stage.
- time in stage: from the move in to the lead's next move, for stays that ended before the period's end
  (stays still open are counted apart, not guessed); median and p90 by the nearest-rank rule.
- velocity: for leads that first reached a stage of the path inside the period, the days since they
  entered the funnel (their first stage move).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel

from leadscore.analytics.common import DAY_US, Funnel, ReportFilter, days, pick_ranks, rank_query, rate
from leadscore.analytics.funnel_arrays import FunnelNumbers, funnel_numbers
from leadscore.analytics.history import History, StoreHistory
from leadscore.analytics.tables import Chart, Column, ReportMeta, Series, Table
from leadscore.store.tables import results

if TYPE_CHECKING:
    import pyarrow as pa


class StageRow(BaseModel):
    stage: str
    on_path: bool
    current: int
    entered: int
    entered_first: int
    advanced: int | None
    conversion: float | None
    exited: int
    median_days: float | None
    p90_days: float | None
    still_open: int


class ExitRow(BaseModel):
    from_stage: str | None
    to_stage: str
    leads: int
    moves: int


class VelocityRow(BaseModel):
    stage: str
    reached: int
    median_days: float | None
    p90_days: float | None
    per_30_days: float


class FunnelReport(BaseModel):
    meta: ReportMeta
    stages: list[StageRow]
    exits: list[ExitRow]
    velocity: list[VelocityRow]

    def tables(self) -> list[Table]:
        return [
            Table(
                name="stages",
                title="Stages",
                columns=[
                    Column(key="stage", title="Stage"),
                    Column(key="current", title="Now", kind="int"),
                    Column(key="entered", title="Entered", kind="int"),
                    Column(key="entered_first", title="Entered here first", kind="int"),
                    Column(key="advanced", title="Moved on", kind="int"),
                    Column(key="conversion", title="Conversion", kind="rate"),
                    Column(key="exited", title="Exited", kind="int"),
                    Column(key="median_days", title="Median time", kind="days"),
                    Column(key="p90_days", title="p90 time", kind="days"),
                    Column(key="still_open", title="Still there", kind="int"),
                ],
                rows=[r.model_dump() for r in self.stages],
                empty="The model has no lifecycle, or no lead moved in this period.",
            ),
            Table(
                name="exits",
                title="Exits, and from where",
                columns=[
                    Column(key="from_stage", title="From"),
                    Column(key="to_stage", title="To"),
                    Column(key="leads", title="Leads", kind="int"),
                    Column(key="moves", title="Moves", kind="int"),
                ],
                rows=[r.model_dump() for r in self.exits],
                empty="No lead left the path in this period.",
            ),
            Table(
                name="velocity",
                title="Velocity: days from entering the funnel",
                columns=[
                    Column(key="stage", title="Reached"),
                    Column(key="reached", title="Leads", kind="int"),
                    Column(key="median_days", title="Median", kind="days"),
                    Column(key="p90_days", title="p90", kind="days"),
                    Column(key="per_30_days", title="Per 30 days", kind="score"),
                ],
                rows=[r.model_dump() for r in self.velocity],
                empty="No lead reached a later stage in this period.",
            ),
        ]

    def charts(self) -> list[Chart]:
        path = [s for s in self.stages if s.on_path]
        return [
            Chart(
                name="funnel",
                title="Leads entering each stage",
                kind="funnel",
                x_label="Stage",
                y_label="Leads",
                series=[Series(name="entered", points=[(s.stage, float(s.entered)) for s in path])],
            ),
            Chart(
                name="time-in-stage",
                title="Median time in stage",
                kind="bar",
                x_label="Stage",
                y_label="Days",
                unit="d",
                series=[
                    Series(
                        name="median",
                        points=[(s.stage, s.median_days) for s in self.stages if s.median_days is not None],
                    )
                ],
            ),
        ]


def funnel_report(
    conn: sa.Connection,
    funnel: Funnel,
    f: ReportFilter,
    meta: ReportMeta,
    history: History | None = None,
    moves: pa.Table | None = None,
) -> FunnelReport:
    """`moves`: `stage_moves(f)` read into Arrow, the numbers then computed by `funnel_arrays`; else
    the statements below run where `history` says (default: in the store, through `conn`)."""
    if not funnel.stages:
        meta.notes.append("The active model has no lifecycle: there is no funnel to show.")
        return FunnelReport(meta=meta, stages=[], exits=[], velocity=[])
    if moves is not None:
        numbers = funnel_numbers(moves, funnel, f)
    else:
        numbers = _statement_numbers(history or StoreHistory(conn, f), funnel, f)
    current: dict[str, int] = dict(
        conn.execute(
            sa.select(results.c.stage, sa.func.count())
            .where(results.c.stage.is_not(None), f.lead_condition(results.c.lead_id))
            .group_by(results.c.stage)
        ).all()
    )
    rows: list[StageRow] = []
    last = len(funnel.stages) - 1
    for i, stage in enumerate([*funnel.stages, *funnel.exits]):
        entered, first, adv, ex, still_open = numbers.counts.get(stage, (0, 0, 0, 0, 0))
        on_path = i < len(funnel.stages)
        moved_on = adv if on_path and i < last else None
        rows.append(
            StageRow(
                stage=stage,
                on_path=on_path,
                current=current.get(stage, 0),
                entered=entered,
                entered_first=first,
                advanced=moved_on,
                conversion=rate(moved_on, entered) if moved_on is not None else None,
                exited=ex,
                median_days=days(numbers.times.get(stage, {}).get(50)),
                p90_days=days(numbers.times.get(stage, {}).get(90)),
                still_open=still_open,
            )
        )
    exits = [ExitRow(from_stage=a, to_stage=b, leads=c, moves=d) for a, b, c, d in numbers.exits]
    # most moves first; a move from no stage (a lead's first) before one from the empty name
    exits.sort(key=lambda e: (-e.moves, e.from_stage is not None, e.from_stage or "", e.to_stage))
    period_days = (f.end_us - f.start_us) / DAY_US
    velocity = [
        VelocityRow(
            stage=stage,
            reached=numbers.reached.get(stage, 0),
            median_days=days(numbers.velocity.get(stage, {}).get(50)),
            p90_days=days(numbers.velocity.get(stage, {}).get(90)),
            per_30_days=round(numbers.reached.get(stage, 0) * 30 / period_days, 2),
        )
        for stage in funnel.stages[1:]
    ]
    return FunnelReport(meta=meta, stages=rows, exits=exits, velocity=velocity)


def _statement_numbers(moves_at: History, funnel: Funnel, f: ReportFilter) -> FunnelNumbers:
    """The numbers by the funnel's statements over the moves, wherever `moves_at` runs them."""
    sh = moves_at.source.c
    start, end = f.start_us, f.end_us
    idx = funnel.index_of(sh.to_stage)
    order = (sh.at, sh.id)
    later_idx = sa.case((sh.at < end, idx), else_=-1)
    # Each move with the lead's next move and the furthest stage it reached later: one pass of window
    # functions, shared (a CTE used three times is materialised once) by the three parts below.
    moves = sa.select(
        sh.lead_id,
        sh.at,
        sh.to_stage,
        sh.from_stage,
        sh.cause,
        idx.label("idx"),
        sa.func.lead(sh.at).over(partition_by=sh.lead_id, order_by=order).label("next_at"),
        sa.func.lead(sh.to_stage).over(partition_by=sh.lead_id, order_by=order).label("next_stage"),
        sa.func.max(later_idx).over(partition_by=sh.lead_id, order_by=order, rows=(1, None)).label("later_idx"),
    ).cte("moves")
    m = moves.c
    in_period = sa.and_(m.at >= start, m.at < end)
    closed = sa.and_(m.next_at.is_not(None), m.next_at < end)
    advanced = sa.and_(m.idx >= 0, m.later_idx > m.idx)
    exited = sa.and_(closed, m.next_stage.in_(funnel.exits) if funnel.exits else sa.false())
    none_text, none_int = sa.cast(sa.null(), sa.String), sa.cast(sa.null(), sa.BigInteger)

    # Distinct leads per stage, counted as (stage, lead) pairs: one grouping by the pair with a flag
    # per question, then sums per stage (one hash table instead of a distinct set per question).
    def flag(cond: Any) -> Any:
        return sa.func.max(sa.case((cond, 1), else_=0))

    pairs = (
        sa.select(
            m.to_stage.label("stage"),
            flag(m.cause == "initial").label("first"),
            flag(advanced).label("adv"),
            flag(exited).label("ex"),
            sa.func.count(sa.case((sa.not_(closed), 1))).label("open"),
        )
        .where(in_period)
        .group_by(m.to_stage, m.lead_id)
        .subquery("pairs")
    )
    p = pairs.c

    def total(col: Any) -> Any:
        return sa.cast(sa.func.sum(col), sa.BigInteger)

    per_stage = sa.select(
        sa.literal("stage").label("kind"),
        p.stage.label("k1"),
        none_text.label("k2"),
        sa.func.count().label("c1"),
        total(p.first).label("c2"),
        total(p.adv).label("c3"),
        total(p.ex).label("c4"),
        total(p.open).label("c5"),
    ).group_by(p.stage)
    exits = (
        sa.select(
            sa.literal("exit"),
            m.from_stage,
            m.to_stage,
            sa.func.count(sa.distinct(m.lead_id)),
            sa.func.count(),
            none_int,
            none_int,
            none_int,
        )
        .where(in_period, m.to_stage.in_(funnel.exits or [""]))
        .group_by(m.from_stage, m.to_stage)
    )
    stays = sa.select(m.to_stage.label("g"), (m.next_at - m.at).label("us")).where(in_period, closed).subquery()
    ranks = rank_query(stays, "g", "us").subquery()
    pcts = sa.select(sa.literal("pct"), ranks.c.g, none_text, ranks.c.rn, ranks.c.n, ranks.c.v, none_int, none_int)
    out = FunnelNumbers()
    rank_rows = []
    for kind, k1, k2, c1, c2, c3, c4, c5 in moves_at.rows(sa.union_all(per_stage, exits, pcts)):
        if kind == "stage":
            if k1 is not None:
                out.counts[k1] = (c1, c2, c3, c4, c5)
        elif kind == "exit":
            out.exits.append((k1, k2, c1, c2))
        else:
            rank_rows.append((k1, c3, c1, c2))
    out.times, _ = pick_ranks(rank_rows)
    out.velocity, out.reached = _velocity(moves_at, funnel, f)
    return out


def _velocity(history: History, funnel: Funnel, f: ReportFilter) -> tuple[dict[str, dict[int, float]], dict[str, int]]:
    """Days from a lead's first stage move to the first time it reached each later stage of the path
    (percentiles and leads per stage).

    Leads that entered the funnel at or beyond a stage did not travel to it and are left out of it.
    """
    sh = history.source.c
    idx = funnel.index_of(sh.to_stage)
    later = list(enumerate(funnel.stages[1:], start=1))
    cols: list[Any] = [
        sh.lead_id,
        sa.func.min(sh.at).label("entered_at"),
        sa.func.max(sa.case((sh.cause == "initial", idx), else_=-1)).label("start_idx"),
    ]
    cols += [sa.func.min(sa.case((idx >= i, sh.at))).label(f"s{i}") for i, _ in later]
    firsts = sa.select(*cols).group_by(sh.lead_id).cte("firsts")
    parts = [
        sa.select(sa.literal(stage).label("g"), (firsts.c[f"s{i}"] - firsts.c.entered_at).label("us")).where(
            firsts.c[f"s{i}"] >= f.start_us, firsts.c[f"s{i}"] < f.end_us, firsts.c.start_idx < i
        )
        for i, stage in later
    ]
    if not parts:
        return {}, {}
    spans = sa.union_all(*parts).subquery("spans")
    return pick_ranks(history.rows(rank_query(spans, "g", "us")))
