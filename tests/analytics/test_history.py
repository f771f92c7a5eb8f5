"""The funnel's fast paths against its statements run in the store, on generated stores and on any
history: the moves read into Arrow and counted with array operations (what `run_report` does), and
the same statements run in DuckDB. The reports must be equal, number for number."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.analytics.common import Funnel, ReportFilter
from leadscore.analytics.funnel import FunnelReport, funnel_report
from leadscore.analytics.history import ArrowHistory, read_moves
from leadscore.analytics.tables import ReportMeta
from leadscore.app.service import LeadService
from leadscore.domain.timeutil import to_micros
from leadscore.model.loader import load_model
from leadscore.store import open_store
from leadscore.store.base import LeadStore
from leadscore.store.tables import stage_history
from tests.analytics.conftest import END, YEAR_GROUP
from tests.store.conftest import FixedClock, postgres_template, store_url  # noqa: F401 (fixtures)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
YEAR = ReportFilter(start=END - timedelta(days=365), end=END)


def both(store: LeadStore, funnel: Funnel, f: ReportFilter, split: int | None = None) -> tuple[dict, dict]:
    """(the report by the statements in the store, by array operations over the moves as `run_report`
    reads them); the statements in DuckDB and the arrays over the moves in another row order must
    give the second too."""
    meta = ReportMeta(name="funnel", title="Funnel", period=f.describe(), generated_at="-")
    with store.read() as conn:
        simple = funnel_report(conn, funnel, f, meta)
        moves = read_moves(store, conn, f, split, ordered=True)
        fast = dump(funnel_report(conn, funnel, f, meta, moves=moves))
        history = ArrowHistory(read_moves(store, conn, f, split))
        try:
            assert dump(funnel_report(conn, funnel, f, meta, history)) == fast
        finally:
            history.close()
        for table in (history.table, shuffled(moves), in_lead_order(moves)):
            assert dump(funnel_report(conn, funnel, f, meta, moves=table)) == fast
    return dump(simple), fast


def shuffled(table: pa.Table) -> pa.Table:
    return table.take(np.random.default_rng(len(table)).permutation(len(table)))


def in_lead_order(table: pa.Table) -> pa.Table:
    """The order the arrays take without sorting (PostgreSQL's; SQLite's readers give another)."""
    return table.sort_by([("lead_id", "ascending"), ("at", "ascending"), ("id", "ascending")])


def dump(report: FunnelReport) -> dict:
    return report.model_dump(exclude={"meta"})


@pytest.mark.slow
@YEAR_GROUP
def test_fast_funnel_equals_the_store_on_a_generated_year(generated: LeadService) -> None:
    funnel = Funnel.of(generated.model)
    simple, fast = both(generated.store, funnel, YEAR)
    assert simple["stages"] and any(s["entered"] for s in simple["stages"])  # the store has a funnel to compare
    assert fast == simple
    # a quarter, and the filters a user can set (the readers take the filters as SQL of the store's dialect)
    quarter = ReportFilter(start=END - timedelta(days=120), end=END - timedelta(days=30))
    assert both(generated.store, funnel, quarter)[1] == both(generated.store, funnel, quarter)[0]
    for filters in ({"stage": "mql"}, {"labels": {"temperature": "hot"}}, {"attributes": {"source": "it's \\ 'odd'"}}):
        f = ReportFilter(start=YEAR.start, end=YEAR.end, **filters)
        simple, fast = both(generated.store, funnel, f)
        assert fast == simple, filters


@pytest.mark.slow
@YEAR_GROUP
def test_fast_funnel_through_the_store_readers(generated: LeadService) -> None:
    """A split of 1 row makes SQLite's bulk reader start its reader processes, as on a large store."""
    funnel = Funnel.of(generated.model)
    simple, fast = both(generated.store, funnel, YEAR, split=1)
    assert fast == simple


MODEL = load_model(EXAMPLES / "b2b-saas" / "model.yaml")
FUNNEL = Funnel.of(MODEL)
STAGES = [*FUNNEL.stages, *FUNNEL.exits]
CAUSES = ["initial", "manual", "event:sales_accepted", "event:sales_rejected", "rule", "decay"]
DAY = 86_400_000_000
moves = st.lists(
    st.tuples(
        st.integers(0, 12),  # lead
        st.integers(-40, 400),  # day: before, inside and after the period
        st.integers(0, 3),  # hour: ties in time are ordered by id
        st.sampled_from(STAGES),
        st.sampled_from(CAUSES),
    ),
    max_size=60,
)


@pytest.fixture(scope="module")
def raw_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LeadStore]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('history') / 'store.db'}")
    store.upgrade()
    yield store
    store.dispose()


@given(rows=moves, start_day=st.integers(0, 300), length=st.integers(1, 120))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fast_funnel_equals_the_store_on_any_history(
    raw_store: LeadStore, rows: list[tuple[int, int, int, str, str]], start_day: int, length: int
) -> None:
    """Any stage history (moves in any order of stages, ties in time, exits, re-entries)."""
    base = to_micros(datetime(2025, 6, 1, tzinfo=UTC))
    last: dict[int, str | None] = {}
    with raw_store.engine.begin() as conn:
        conn.execute(stage_history.delete())
        for lead, day, hour, stage, cause in sorted(rows, key=lambda r: (r[1], r[2])):
            conn.execute(
                stage_history.insert().values(
                    lead_id=f"L{lead}",
                    at=base + day * DAY + hour * 3_600_000_000,
                    from_stage=last.get(lead),
                    to_stage=stage,
                    cause=cause,
                    event_key=None,
                    model_version="v",
                )
            )
            last[lead] = stage
    start = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(days=start_day)
    f = ReportFilter(start=start, end=start + timedelta(days=length))
    simple, fast = both(raw_store, FUNNEL, f)
    assert fast == simple
    with raw_store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(stage_history)).scalar_one() == len(rows)
