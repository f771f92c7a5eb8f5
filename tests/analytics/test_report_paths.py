"""Reports that read the store into DuckDB (`run_report`) against the same statements run in the store,
on generated stores and on odd attribute values: the reports must be equal, number for number."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.analytics import run_report
from leadscore.analytics.channels import channel_history, channel_report
from leadscore.analytics.common import Funnel, ReportFilter
from leadscore.analytics.feedback import _decisions, reason_counts, rule_counts
from leadscore.analytics.quality import quality_report
from leadscore.analytics.quality_sources import quality_history
from leadscore.analytics.tables import ReportMeta
from leadscore.app.service import LeadService
from leadscore.domain.timeutil import to_micros
from leadscore.model.loader import load_model
from leadscore.store import open_store
from leadscore.store.base import LeadStore
from leadscore.store.tables import events, leads, results, score_history, stage_history
from tests.analytics.conftest import END, YEAR_GROUP
from tests.store.conftest import postgres_template, store_url  # noqa: F401 (fixtures)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODEL = load_model(EXAMPLES / "b2b-saas" / "model.yaml")
FUNNEL = Funnel.of(MODEL)
# the generated leads enter the funnel from 400 days before END: a cohort needs the whole span
YEAR = ReportFilter(start=END - timedelta(days=420), end=END)


def channels_both(store: LeadStore, f: ReportFilter, by: str, split: int | None = None) -> tuple[Any, Any]:
    meta = ReportMeta(name="channels", title="Channels", period=f.describe(), generated_at="-")
    with store.read() as conn:
        simple = channel_report(conn, FUNNEL, f, meta, by)
        history = channel_history(store, conn, FUNNEL, f, by, split)
        try:
            fast = channel_report(conn, FUNNEL, f, meta, by, history=history)
        finally:
            history.close()
    return simple.model_dump(exclude={"meta"}), fast.model_dump(exclude={"meta"})


@pytest.mark.slow
@YEAR_GROUP
def test_channels_in_duckdb_equal_the_store_on_a_generated_year(generated: LeadService) -> None:
    store = generated.store
    simple, fast = channels_both(store, YEAR, "source")
    rows = simple["rows"]
    assert len(rows) > 1 and any(r["won"] for r in rows) and any(r["revenue"] for r in rows)  # something to compare
    assert fast == simple
    for by in ("industry", "company_size", "no_such_attribute"):
        simple, fast = channels_both(store, YEAR, by, split=1)  # split 1: SQLite's reader processes, as at scale
        assert fast == simple, by
    quarter = ReportFilter(start=END - timedelta(days=420), end=END - timedelta(days=200))
    odd = {"attributes": {"source": "it's \\ 'x'"}}
    for filters in ({}, {"stage": "mql"}, {"labels": {"temperature": "hot"}}, odd):
        f = ReportFilter(start=quarter.start, end=quarter.end, **filters)
        simple, fast = channels_both(store, f, "source")
        assert fast == simple, filters
    # what `leadscore report channels` runs is the DuckDB path, and a touch stays in the store
    assert run_report(generated, "channels", YEAR, by="source").model_dump(exclude={"meta"}) == simple_year(store)
    touch = run_report(generated, "channels", YEAR, by="first_touch")
    assert touch.rows and sum(r.leads for r in touch.rows) == sum(r["leads"] for r in simple_year(store)["rows"])


def quality_both(store: LeadStore, f: ReportFilter, target: str, split: int | None = None) -> tuple[Any, Any]:
    meta = ReportMeta(name="quality", title="Score quality", period=f.describe(), generated_at="-")
    with store.read() as conn:
        simple = quality_report(conn, MODEL, FUNNEL, f, meta, target)
        history = quality_history(store, conn, MODEL, FUNNEL, f, target, split)
        try:
            fast = quality_report(conn, MODEL, FUNNEL, f, meta, target, history=history)
        finally:
            history.close()
    return simple.model_dump(exclude={"meta"}), fast.model_dump(exclude={"meta"})


@pytest.mark.slow
@YEAR_GROUP
def test_score_quality_in_duckdb_equals_the_store_on_a_generated_year(generated: LeadService) -> None:
    store = generated.store
    simple, fast = quality_both(store, YEAR, "customer")
    # something to compare: conversions, labels, a missed lead and a distribution over months
    assert simple["converted"] and simple["missed"] and len(simple["labels"]) > 2 and len(simple["distribution"]) > 10
    assert fast == simple
    for target in ("mql", "sql"):
        simple, fast = quality_both(store, YEAR, target, split=1)  # split 1: SQLite's reader processes
        assert simple["converted"] and fast == simple, target
    odd = {"attributes": {"source": "it's \\ 'x'"}}
    for filters in ({"stage": "mql"}, {"labels": {"temperature": "hot"}}, {"attributes": {"source": "paid"}}, odd):
        f = ReportFilter(start=END - timedelta(days=200), end=END - timedelta(days=20), **filters)
        simple, fast = quality_both(store, f, "sql")
        assert fast == simple, filters
    # `leadscore report quality` runs the DuckDB path
    report = run_report(generated, "quality", YEAR, target="customer").model_dump(exclude={"meta"})
    assert report == quality_both(store, YEAR, "customer")[0]


def simple_year(store: LeadStore) -> Any:
    meta = ReportMeta(name="channels", title="Channels", period=YEAR.describe(), generated_at="-")
    with store.read() as conn:
        return channel_report(conn, FUNNEL, YEAR, meta, "source").model_dump(exclude={"meta"})


ODD_VALUES: list[Any] = [5, 5.5, 0.1, True, False, "", "it's", 'naïve "quoted" \\ value', None, {"a": 1}, [1, 2]]


@pytest.fixture
def odd_store(store_url: str) -> Iterator[LeadStore]:  # noqa: F811
    """Leads whose `source` is a number, a boolean, empty, quoted, null, nested or absent; each moved
    into the funnel in January 2026, some on to MQL and won with an amount."""
    store = open_store(store_url)
    store.upgrade()
    base = to_micros(datetime(2026, 1, 1, tzinfo=UTC))
    hour = 3_600_000_000
    with store.engine.begin() as conn:
        for i, value in enumerate([*ODD_VALUES, "absent"]):
            attributes = {} if value == "absent" else {"source": value}
            lead_id = f"L{i}"
            conn.execute(leads.insert().values(id=lead_id, attributes=attributes, created_at=base, updated_at=base))
            path = ["lead", "mql", "sql", "opportunity", "customer"][: 1 + i % 5]
            last = None
            for step, stage in enumerate(path):
                key = f"{lead_id}/e{step}"
                conn.execute(
                    stage_history.insert().values(
                        lead_id=lead_id,
                        at=base + (i * 24 + step) * hour,
                        from_stage=last,
                        to_stage=stage,
                        cause="initial" if last is None else "event:x",
                        event_key=key if stage == "customer" else None,
                        model_version="v",
                    )
                )
                if stage == "customer":
                    conn.execute(
                        events.insert().values(
                            event_key=key,
                            lead_id=lead_id,
                            received_lead_id=lead_id,
                            type="deal_won",
                            ts=base + (i * 24 + step) * hour,
                            ingested_at=base + (i * 24 + step) * hour,
                            properties={"amount": 1000.25 + i},
                        )
                    )
                last = stage
    yield store
    store.dispose()


def test_channels_in_duckdb_equal_the_store_on_odd_attribute_values(odd_store: LeadStore) -> None:
    january = ReportFilter(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 2, 1, tzinfo=UTC))
    for split in (None, 1):
        simple, fast = channels_both(odd_store, january, "source", split)
        assert fast == simple
    assert sum(r["leads"] for r in simple["rows"]) == len(ODD_VALUES) + 1
    assert sum(r["revenue"] for r in simple["rows"]) > 0


def test_sales_feedback_reads_the_decisions_first_on_sqlite(hand_store: LeadService) -> None:
    """Each feedback statement starts from the period's decisions and looks their leads up; walking
    every stored result instead costs a million index probes at 1M leads (SQLite chose that while the
    decisions were inlined)."""
    store = hand_store.store
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner; PostgreSQL hash-joins either way")
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().startswith("WITH decisions"):
            statements.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        report = run_report(hand_store, "feedback", ReportFilter(start=datetime(2026, 1, 1, tzinfo=UTC), end=END))
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", seen)
    assert report.decisions > 0 and len(statements) >= 4
    with store.read() as conn:
        for statement, parameters in statements:
            plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            assert "MATERIALIZE decisions" in plan, plan
            assert not any(step.startswith("SCAN results") for step in plan), plan


DAY = 86_400_000_000
STAGES = [*FUNNEL.stages, *FUNNEL.exits]
histories = st.lists(
    st.tuples(
        st.integers(0, 9),  # lead
        st.integers(-30, 200),  # day: before, inside and after the period
        st.integers(0, 2),  # hour: ties in time are ordered by id
        st.sampled_from(STAGES),
        st.sampled_from([0.0, 10.0, 25.0, 49.5, 50.0, 120.0, 300.0]),  # score then (ties across leads)
    ),
    max_size=40,
)


@pytest.fixture(scope="module")
def raw_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LeadStore]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('paths') / 'store.db'}")
    store.upgrade()
    yield store
    store.dispose()


@given(rows=histories, labels=st.lists(st.sampled_from(["hot", "warm", None]), min_size=10, max_size=10))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_channels_and_quality_in_duckdb_equal_the_store_on_any_history(
    raw_store: LeadStore, rows: list[tuple[int, int, int, str, float]], labels: list[str | None]
) -> None:
    """Any moves and score entries (re-entries, exits, ties in time and in score), leads without a
    label or a source, and a lead with moves but no stored result."""
    base = to_micros(datetime(2026, 1, 1, tzinfo=UTC))
    last: dict[int, str | None] = {}
    with raw_store.engine.begin() as conn:
        for table in (stage_history, score_history, results, leads):
            conn.execute(table.delete())
        for i, label in enumerate(labels[:9]):  # lead 9 has no result
            conn.execute(
                leads.insert().values(
                    id=f"L{i}",
                    attributes={"source": ["paid", "organic"][i % 2]} if i % 3 else {},
                    created_at=base,
                    updated_at=base,
                )
            )
            conn.execute(
                results.insert().values(
                    lead_id=f"L{i}",
                    model="m",
                    model_version="v",
                    evaluated_at=base,
                    score=float(i * 10 % 40),
                    dimensions={},
                    labels={"temperature": label} if label else {},
                    stage=None,
                    stage_history=[],
                    playbook=None,
                    queue_rank=0,
                    breakdown=[],
                    next_change_at=None,
                )
            )
        for lead, day, hour, stage, score in sorted(rows, key=lambda r: (r[1], r[2])):
            at = base + day * DAY + hour * 3_600_000_000
            conn.execute(
                stage_history.insert().values(
                    lead_id=f"L{lead}",
                    at=at,
                    from_stage=last.get(lead),
                    to_stage=stage,
                    cause="initial" if lead not in last else "event:x",
                    event_key=None,
                    model_version="v",
                )
            )
            conn.execute(
                score_history.insert().values(
                    lead_id=f"L{lead}",
                    at=at - 1000,
                    model_version="v",
                    score=score,
                    delta=0.0,
                    dimensions={},
                    cause="x",
                )
            )
            last[lead] = stage
    f = ReportFilter(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 5, 1, tzinfo=UTC))
    simple, fast = channels_both(raw_store, f, "source")
    assert fast == simple
    for target in ("mql", "customer"):
        simple, fast = quality_both(raw_store, f, target)
        assert fast == simple, target


@pytest.mark.slow
@YEAR_GROUP
def test_feedback_rules_counted_in_duckdb_equal_the_store(generated: LeadService) -> None:
    store = generated.store
    d = _decisions(FUNNEL, YEAR)
    joined = d.join(results, results.c.lead_id == d.c.lead_id)
    with store.read() as conn:
        simple = rule_counts(conn, d, joined, in_duckdb=False)
        fast = rule_counts(conn, d, joined, in_duckdb=True)
    assert len(simple) > 3 and fast == simple


@pytest.mark.slow
@YEAR_GROUP
def test_feedback_reasons_looked_up_per_decision_equal_the_plain_join(generated: LeadService) -> None:
    """PostgreSQL looks each decision's events up (LATERAL); a plain outer join is the reference."""
    d = _decisions(FUNNEL, YEAR)
    reason = sa.func.coalesce(events.c.properties["reason"].as_string(), "(no reason given)")
    plain = (
        sa.select(reason, sa.func.count())
        .select_from(d.outerjoin(events, events.c.event_key == d.c.event_key))
        .where(d.c.kind != "accepted")
        .group_by(reason)
        .order_by(sa.func.count().desc(), reason)
    )
    with generated.store.read() as conn:
        expected = [tuple(r) for r in conn.execute(plain)]
        assert sum(n for _, n in expected) > 3  # rejections to look up
        assert reason_counts(conn, d) == expected


def test_feedback_rules_in_duckdb_on_odd_breakdowns(tmp_path: Path) -> None:
    """Caps and floors in any ASCII case are left out as SQLite's LIKE does; items without a rule
    count for nothing; a lead decided twice counts twice."""
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    base = to_micros(datetime(2026, 1, 1, tzinfo=UTC))
    breakdowns: list[Any] = [
        [{"rule": "a"}, {"rule": "cap:fit"}, {"rule": "CAP:x"}, {"rule": "Floor:y"}, {"points": 1}],
        [{"rule": "a"}, {"rule": "b", "points": 2}, {"rule": 'naïve "q"'}],
        [],
    ]
    with store.engine.begin() as conn:
        for i, breakdown in enumerate(breakdowns):
            conn.execute(
                results.insert().values(
                    lead_id=f"L{i}", model="m", model_version="v", evaluated_at=base, score=0.0, dimensions={},
                    labels={}, stage=None, stage_history=[], playbook=None, queue_rank=0, breakdown=breakdown,
                    next_change_at=None,
                )
            )  # fmt: skip
            for n, cause in enumerate(["event:sales_accepted", "event:sales_rejected"][: 2 - i % 2]):
                conn.execute(
                    stage_history.insert().values(
                        lead_id=f"L{i}", at=base + n, from_stage="mql", to_stage="sql", cause=cause,
                        event_key=None, model_version="v",
                    )
                )  # fmt: skip
    january = ReportFilter(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 2, 1, tzinfo=UTC))
    d = _decisions(FUNNEL, january)
    joined = d.join(results, results.c.lead_id == d.c.lead_id)
    with store.read() as conn:
        simple = rule_counts(conn, d, joined, in_duckdb=False)
        fast = rule_counts(conn, d, joined, in_duckdb=True)
    store.dispose()
    assert simple == [("a", 3, 2, 1, 0), ("b", 1, 1, 0, 0), ('naïve "q"', 1, 1, 0, 0)]
    assert fast == simple
