"""Where the score-quality report's rows come from: the store, or the store read into DuckDB.

`scored_in_store` and `scored_in_duckdb` give the same table (per lead of the period's cohort: its
score before converting, whether it converted, when, and its current label of each label set), the
first from the store's tables, the second from the tables `quality_history` reads out of the store
(the moves, each result's score and labels, the score before reaching the target of each lead that
did, the period's score-history entries). `SCORE_ENTRIES` / `score_entries` are the entries the
monthly distribution reads, in DuckDB and in the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from leadscore.analytics.common import Funnel, ReportFilter
from leadscore.analytics.facts import lead_facts
from leadscore.analytics.history import ArrowHistory, read_moves, read_rows, read_select, stage_moves
from leadscore.model.spec import ScoringModel
from leadscore.store.tables import results, score_history

if TYPE_CHECKING:
    from leadscore.store.base import LeadStore


def scored_in_store(funnel: Funnel, f: ReportFilter, target: str, label_sets: list[str]) -> sa.CTE:
    """Per lead of the cohort: lead_id, score (before converting), conv (1 or 0), target_at and the
    current label of each label set (`label_<i>`)."""
    facts = lead_facts(funnel, f, target)
    labels = [results.c.labels[name].as_string().label(f"label_{i}") for i, name in enumerate(label_sets)]
    before = _score_before(facts.c.lead_id, facts.c.target_at)
    joined = facts.join(results, results.c.lead_id == facts.c.lead_id)
    return _scored(facts, f, before, results.c.score, labels, joined)


def _scored(facts: Any, f: ReportFilter, before: Any, current: Any, labels: list[Any], joined: Any) -> sa.CTE:
    """The cohort's rows: a lead that converted in the period scores `before` (its score before
    converting; `current` when there is none), the others `current`."""
    converted = sa.and_(facts.c.target_at.is_not(None), facts.c.target_at < f.end_us)
    score = sa.case((converted, sa.func.coalesce(before, current)), else_=current)
    return (
        sa.select(
            facts.c.lead_id,
            score.label("score"),
            sa.case((converted, 1), else_=0).label("conv"),
            facts.c.target_at,
            *labels,
        )
        .select_from(joined)
        .cte("scored")
    )


def _score_before(lead_id: Any, at: Any) -> Any:
    """The lead's last score-history entry before `at` (none: null)."""
    sh = score_history.c
    return (
        sa.select(sh.score)
        .where(sh.lead_id == lead_id, sh.at < at)
        .order_by(sh.at.desc(), sh.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _result_columns(label_sets: list[str]) -> list[Any]:
    return [
        sa.column("lead_id", sa.String),
        sa.column("score", sa.Float),
        *(sa.column(f"label_{i}", sa.String) for i in range(len(label_sets))),
    ]


def scored_in_duckdb(
    funnel: Funnel, f: ReportFilter, target: str, label_sets: list[str], history: ArrowHistory
) -> sa.CTE:
    """`scored_in_store` over the tables `quality_history` read: `quality_results` (each result's
    score and labels) and `before_scores` (the score before reaching the target, per lead that did)."""
    facts = lead_facts(funnel, f, target, moves=history.source)
    r = sa.table("quality_results", *_result_columns(label_sets))
    b = sa.table("before_scores", sa.column("lead_id", sa.String), sa.column("score", sa.Float))
    labels = [r.c[f"label_{i}"].label(f"label_{i}") for i in range(len(label_sets))]
    joined = facts.join(r, r.c.lead_id == facts.c.lead_id).outerjoin(b, b.c.lead_id == facts.c.lead_id)
    return _scored(facts, f, b.c.score, r.c.score, labels, joined)


SCORE_ENTRIES = sa.table(
    "score_entries",
    sa.column("lead_id", sa.String),
    sa.column("at", sa.BigInteger),
    sa.column("id", sa.BigInteger),
    sa.column("score", sa.Float),
)


def score_entries(f: ReportFilter) -> sa.Select[Any]:
    """The score-history entries of the period, of the leads the filters keep."""
    sh = score_history.c
    return sa.select(sh.lead_id, sh.at, sh.id, sh.score).where(
        sh.at >= f.start_us, sh.at < f.end_us, f.lead_condition(sh.lead_id)
    )


def quality_history(
    store: LeadStore,
    conn: sa.Connection,
    model: ScoringModel,
    funnel: Funnel,
    f: ReportFilter,
    target: str,
    split: int | None = None,
) -> ArrowHistory:
    """What `quality_report` reads, out of the store into DuckDB: the moves, each result's score and
    labels (taken out of their JSON by the store), the score before reaching `target` of each lead
    that did (looked up in the store's score history, a few index reads per such lead), and the
    period's score-history entries for the distribution. `split`: as `bulk.export.query_table`."""
    import pyarrow as pa

    label_sets = list(model.labels)
    history = ArrowHistory(read_moves(store, conn, f, split))
    try:
        labels = [results.c.labels[name].as_string().label(f"label_{i}") for i, name in enumerate(label_sets)]
        current = sa.select(results.c.lead_id, results.c.score, *labels).where(results.c.lead_id.is_not(None))
        schema = pa.schema(
            [
                ("lead_id", pa.string()),
                ("score", pa.float64()),
                *((f"label_{i}", pa.string()) for i in range(len(label_sets))),
            ]
        )
        history.add("quality_results", read_select(store, conn, current, "results", "rowid", schema, split))
        sh = stage_moves(f).subquery("history").c
        reached = (
            sa.select(sh.lead_id.label("lead_id"), sa.func.min(sh.at).label("target_at"))
            .where(funnel.index_of(sh.to_stage) >= (funnel.position(target) or 0))
            .group_by(sh.lead_id)
            .subquery("reached")
        )
        before = sa.select(reached.c.lead_id, _score_before(reached.c.lead_id, reached.c.target_at))
        money = pa.schema([("lead_id", pa.string()), ("score", pa.float64())])
        history.add("before_scores", read_rows(conn, before, money))
        entries = pa.schema([("lead_id", pa.string()), ("at", pa.int64()), ("id", pa.int64()), ("score", pa.float64())])
        history.add("score_entries", read_select(store, conn, score_entries(f), "score_history", "id", entries, split))
    except BaseException:
        history.close()
        raise
    return history
