"""The funnel's array operations on tables in any row order (the store statements they must equal are
compared in test_history.py), and the PostgreSQL reader they are fed by."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.analytics import postgres_arrow
from leadscore.analytics.common import Funnel, ReportFilter
from leadscore.analytics.funnel_arrays import _order, funnel_numbers
from leadscore.analytics.history import arrow_schema, read_select, stage_moves
from leadscore.bulk.export import query_table
from leadscore.domain.timeutil import to_micros
from leadscore.store import open_store
from leadscore.store.base import LeadStore
from leadscore.store.tables import stage_history
from tests.store.conftest import postgres_template, store_url  # noqa: F401 (fixtures)

FUNNEL = Funnel(
    stages=["lead", "mql", "sql", "customer"],
    exits=["recycled", "lost"],
    mql="mql",
    sql="sql",
    won="customer",
    won_events=[],
    accept_events=[],
    reject_events=[],
)
BASE = to_micros(datetime(2026, 1, 1, tzinfo=UTC))
DAY = 86_400_000_000
PERIOD = ReportFilter(start=datetime(2026, 1, 10, tzinfo=UTC), end=datetime(2026, 3, 1, tzinfo=UTC))


def table(rows: list[tuple[str, int, int, str, str | None, str]]) -> pa.Table:
    names = arrow_schema().names
    return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)}, schema=arrow_schema())


def test_moves_already_in_lead_order_are_not_sorted_again() -> None:
    rows = [("a", 1, 1, "lead", None, "initial"), ("a", 1, 2, "mql", "lead", "x"), ("b", 0, 3, "lead", None, "initial")]
    order, lead = _order(table(rows))
    assert order is None and lead.tolist() == [0, 0, 1]
    # a lead in two runs, leads out of text order, or a lead's moves out of (at, id) order: sorted
    for odd in ([rows[0], rows[2], rows[1]], [rows[2], rows[0], rows[1]], [rows[1], rows[0], rows[2]]):
        order, lead = _order(table(odd))
        assert order is not None
        ordered = [odd[i] for i in order.tolist()]
        assert [(r[0], r[2]) for r in ordered] in ([("a", 1), ("a", 2), ("b", 3)], [("b", 3), ("a", 1), ("a", 2)])
        assert lead.tolist() == ([0, 0, 1] if ordered[0][0] == "a" else [0, 1, 1])


moves = st.lists(
    st.tuples(
        st.sampled_from(["L1", "L2", "l1", "é", "L10", "L1 "]),  # ids whose text order differs by collation
        st.integers(0, 80),  # day: before, in and after the period
        st.integers(0, 2),  # ties in time, ordered by id
        st.sampled_from([*FUNNEL.stages, *FUNNEL.exits, "elsewhere"]),
        st.sampled_from([None, "lead", "mql", "elsewhere"]),
        st.sampled_from(["initial", "event:x", "manual"]),
    ),
    max_size=50,
)


@given(rows=moves, seed=st.integers(0, 2**32 - 1))
@settings(max_examples=80, deadline=None)
def test_numbers_do_not_depend_on_the_row_order(
    rows: list[tuple[str, int, int, str, str | None, str]], seed: int
) -> None:
    listed = [(lead, BASE + day * DAY + h, i, to, frm, cause) for i, (lead, day, h, to, frm, cause) in enumerate(rows)]
    t = table(listed)
    reference = funnel_numbers(t, FUNNEL, PERIOD)
    permuted = t.take(np.random.default_rng(seed).permutation(len(t)))
    assert funnel_numbers(permuted, FUNNEL, PERIOD) == reference
    by_lead = t.sort_by([("lead_id", "ascending"), ("at", "ascending"), ("id", "ascending")])
    assert funnel_numbers(by_lead, FUNNEL, PERIOD) == reference
    # every (stage, lead) pair of the period counted once
    in_period = {(r[0], r[3]) for r in listed if PERIOD.start_us <= r[1] < PERIOD.end_us}
    assert sum(c[0] for c in reference.counts.values()) == len(in_period)


@pytest.fixture
def odd_moves(store_url: str) -> Iterator[LeadStore]:  # noqa: F811
    """Stage moves with quotes, backslashes, accents and empty text in every text column."""
    store = open_store(store_url)
    store.upgrade()
    odd = ["it's", 'a "b" \\ c', "naïve ☃", "", "tab\there", "line\nbreak", "L1"]
    with store.engine.begin() as conn:
        for i, text in enumerate(odd * 3):
            conn.execute(
                stage_history.insert().values(
                    lead_id=text or "empty",
                    at=BASE + i * DAY,
                    from_stage=None if i % 4 == 0 else text,
                    to_stage=text,
                    cause="initial" if i < len(odd) else text,
                    event_key=None,
                    model_version="v",
                )
            )
    yield store
    store.dispose()


def test_the_postgres_reader_reads_what_copy_reads(odd_moves: LeadStore) -> None:
    store = odd_moves
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the ADBC reader is PostgreSQL's")
    f = ReportFilter(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 2, 1, tzinfo=UTC))
    with store.read() as conn:
        assert postgres_arrow.available()
        read = read_select(store, conn, stage_moves(f), "stage_history", "id", arrow_schema(), order="lead_id, at, id")
        sql = str(stage_moves(f).compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    copied = query_table(store, " ".join(sql.split("\n")), "stage_history", "id", arrow_schema())
    assert read.schema == arrow_schema() and len(read) == 21
    assert read.to_pylist() == sorted(copied.to_pylist(), key=lambda r: (r["lead_id"].encode(), r["at"], r["id"]))
    with store.read() as conn:
        collation = conn.exec_driver_sql("SHOW lc_collate").scalar_one()
    if collation in ("C", "C.UTF-8", "C.utf8", "POSIX"):  # text in byte order, as the arrays want it
        assert _order(read)[0] is None
    nothing = ReportFilter(start=datetime(2020, 1, 1, tzinfo=UTC), end=datetime(2020, 2, 1, tzinfo=UTC))
    with store.read() as conn:
        empty = read_select(store, conn, stage_moves(nothing), "stage_history", "id", arrow_schema())
    assert empty.schema == arrow_schema() and len(empty) == 0


def test_the_libpq_uri_keeps_what_the_store_url_says() -> None:
    url = sa.make_url("postgresql+psycopg://us%40er:p%40ss%2Fw:rd@db.example:5433/leads?sslmode=require")
    uri = postgres_arrow.libpq_uri(url)
    assert uri.startswith("postgresql://")
    again = sa.make_url(uri)
    assert (again.username, again.password, again.host, again.port, again.database) == (
        "us@er",
        "p@ss/w:rd",
        "db.example",
        5433,
        "leads",
    )
    assert again.query == {"sslmode": "require"}
