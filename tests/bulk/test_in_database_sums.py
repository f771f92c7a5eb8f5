"""The in-database path's exact sums (`bulk/in_database_sums`): `math.fsum` of the same terms, in any order."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
import sqlglot

from leadscore.bulk.in_database_sums import exact_sums, joined_sql, lanes_sql, row_sum_sql, scale_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def conn(postgres_url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(postgres_url)
    with engine.connect() as c:
        c.exec_driver_sql("SET extra_float_digits = 1")
        yield c
    engine.dispose()


def rows(values: list[float]) -> str:
    """SQL of the rows `v` of `values`, in their order (a sorted subquery, read as sorted)."""
    each = [f"SELECT {i} AS i, CAST({v!r} AS DOUBLE PRECISION) AS v" for i, v in enumerate(values)]
    union = " UNION ALL ".join(each) or "SELECT 0 AS i, CAST(NULL AS DOUBLE PRECISION) AS v WHERE FALSE"
    return f"SELECT v FROM ({union}) AS r ORDER BY i"


def summed(conn: sa.Connection, values: list[float], bound: float | None = None) -> float | None:
    """The exact sum of `values` fed in their order; `bound`: the terms' largest magnitude, if known."""
    scale, n = (scale_for(bound), 2) if bound is not None else (scale_for(2.0**53), 3)
    lanes = [f"SUM({lane})" for lane in lanes_sql("v", scale, n)]
    sql = f"SELECT {joined_sql(lanes, scale)} FROM ({rows(values)}) AS t"
    return conn.exec_driver_sql(sql).scalar()


def plain(conn: sa.Connection, values: list[float]) -> float:
    return conn.exec_driver_sql(f"SELECT SUM(v) FROM ({rows(values)}) AS t").scalar()


def test_hand_computed_sums(conn: sa.Connection) -> None:
    # a plain sum gives 0.0 in this order (2 ** 53 + 1 rounds to 2 ** 53), 1.0 in the other
    assert plain(conn, [2.0**53, 1.0, -(2.0**53)]) == 0.0
    assert summed(conn, [2.0**53, 1.0, -(2.0**53)]) == 1.0
    assert summed(conn, [1.0, 2.0**53, -(2.0**53)]) == 1.0
    assert summed(conn, [0.1, 0.2, 0.3]) == math.fsum([0.1, 0.2, 0.3]) == 0.6
    assert plain(conn, [0.1, 0.2, 0.3]) == 0.6000000000000001
    assert summed(conn, [12.5, 99.9, -60.0, 0.001]) == math.fsum([12.5, 99.9, -60.0, 0.001])
    assert summed(conn, [-7.25]) == -7.25
    assert summed(conn, [0.0]) == 0.0
    assert summed(conn, []) is None  # as SUM over no rows: the query's coalesce gives its 0.0


def test_decayed_points_in_any_order_are_fsum(conn: sa.Connection) -> None:
    rnd = random.Random(7)
    for points in (2.0, 20.0, 0.5, 1e6):
        terms = [points * 0.5 ** (rnd.random() * 40) for _ in range(60)]
        want = math.fsum(terms)
        for _ in range(3):
            rnd.shuffle(terms)
            assert summed(conn, terms, bound=points) == want


def test_amounts_in_any_order_are_fsum(conn: sa.Connection) -> None:
    rnd = random.Random(3)
    terms = [rnd.choice([1, -1]) * rnd.random() * 10.0 ** rnd.randrange(-6, 15) for _ in range(80)]
    terms += [2.0**53, -(2.0**53), 9_007_199_254_740_991.0, 1e-15]
    want = math.fsum(terms)
    for _ in range(3):
        rnd.shuffle(terms)
        assert summed(conn, terms) == want


def test_a_term_past_the_bound_is_an_error_not_a_wrong_sum(conn: sa.Connection) -> None:
    from sqlalchemy.exc import DataError

    with pytest.raises(DataError):
        summed(conn, [1e300])
    conn.rollback()


def test_the_query_sums_become_exact_sums() -> None:
    """Every SUM but a window's is rewritten; a flag's CASE stays around each lane, a FILTER on each."""
    sql = (
        "SELECT SUM(CASE WHEN f THEN CAST(2.0 AS DOUBLE) * _ls_x0 END) AS a, "
        "SUM(CAST(c AS DOUBLE)) FILTER (WHERE g) AS b, SUM(d) OVER (PARTITION BY k) AS w FROM t"
    )
    out = exact_sums(sqlglot.parse_one(sql, read="duckdb")).sql(dialect="postgres")
    assert out.count("SUM(CASE WHEN f THEN CAST(ROUND(") == 2  # two lanes: the points bound the terms
    assert out.count("FILTER(WHERE g)") == 3  # three lanes: an amount's bound is the accepted range
    assert "SUM(d) OVER (PARTITION BY k)" in out


def row_summed(conn: sa.Connection, values: list[float]) -> float:
    """`row_sum_sql` of `values`, as the columns of one row."""
    cols = ", ".join(f"CAST({v!r} AS DOUBLE PRECISION) AS c{i}" for i, v in enumerate(values))
    sql = f"SELECT {row_sum_sql([f'c{i}' for i in range(len(values))])} FROM (SELECT {cols}) AS r"
    return conn.exec_driver_sql(sql).scalar()


def test_a_rows_terms_add_up_to_fsum_and_never_to_negative_zero(conn: sa.Connection) -> None:
    assert row_summed(conn, [0.1, 0.2, 0.3]) == 0.6 == math.fsum([0.1, 0.2, 0.3])  # (0.1 + 0.2) + 0.3 is ...01
    assert row_summed(conn, [2.0**53, 1.0, -(2.0**53)]) == 1.0
    assert row_summed(conn, [1e-30, 0.0, 0.0, 0.0]) == 1e-30  # one term but zeros: kept whole, however small
    assert row_summed(conn, [1e-30, 3.0, 0.0]) == 3.0
    for values in ([-0.0], [-0.0, -0.0], [-0.0, -0.0, -0.0, -0.0], [0.5, -0.5, 0.25, -0.25]):
        got = row_summed(conn, values)
        assert got == 0.0 and math.copysign(1.0, got) == 1.0, values
    rnd = random.Random(5)
    for _ in range(40):
        values = [rnd.choice([0.0, 5.0, -10.0, 20 * 0.5 ** (rnd.random() * 30), 9 * rnd.random()]) for _ in range(8)]
        assert row_summed(conn, values) == math.fsum(values), values
