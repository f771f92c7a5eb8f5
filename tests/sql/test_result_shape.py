"""The breakdown's JSON text written entry by entry (`result_shape.breakdown_text`, the store's shaped
rows) against `to_json` of the list of entries it replaces, on any names, points and counts."""

from __future__ import annotations

from typing import Any, cast

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.sql import literals as q
from leadscore.sql.query import QueryPlan
from leadscore.sql.result_shape import _entries, breakdown_text
from leadscore.sql.rule_sql import RuleSql


def _plan(rules: list[tuple[str, str, bool]], dims: list[str]) -> QueryPlan:
    found = [RuleSql(id=r, dimension=d, points="0", events="0" if ev else None) for r, d, ev in rules]
    return cast(QueryPlan, type("Plan", (), {"rules": found, "dimensions": dims}))


def _listed(plan: QueryPlan) -> str:
    """The list form, as the shaped rows wrote it before (and `shape_sql` still does for JSON)."""
    listed = f"list_filter([{', '.join(_entries(plan))}], lambda e: e.points <> 0)"
    return f"replace(CAST(to_json({listed}) AS VARCHAR), ',\"events\":null', '')"


def _both(plan: QueryPlan, row: dict[str, Any]) -> tuple[str, str]:
    con = duckdb.connect()
    cols = ", ".join(
        f"CAST({'NULL' if v is None else q.double(v) if isinstance(v, float) else int(v)} AS "
        f"{'DOUBLE' if k.startswith(('points', 'adjust')) else 'BIGINT'}) AS {k}"
        for k, v in row.items()
    )
    con.execute(f"CREATE TABLE t AS SELECT {cols}" if cols else "CREATE TABLE t AS SELECT 1 AS x")
    found = con.execute(f"SELECT {_listed(plan)}, {breakdown_text(plan)} FROM t").fetchall()[0]
    con.close()
    return found[0], found[1]


def test_a_hand_made_breakdown() -> None:
    plan = _plan([("visit", "engagement", True), ("size", "fit", False), ("zero", "fit", True)], ["fit"])
    row = {"points_0": 2.5, "events_0": 3, "points_1": 10.0, "points_2": 0.0, "events_2": 0, "adjust_0": -1.5}
    listed, text = _both(plan, row)
    assert text == listed
    assert text == (
        '[{"rule":"visit","dimension":"engagement","points":2.5,"events":3},'
        '{"rule":"size","dimension":"fit","points":10.0},{"rule":"cap:fit","dimension":"fit","points":-1.5}]'
    )


def test_no_entries_is_an_empty_list() -> None:
    assert _both(_plan([("a", "d", True)], ["d"]), {"points_0": 0.0, "events_0": 0, "adjust_0": 0.0}) == ("[]", "[]")
    assert _both(_plan([], []), {}) == ("[]", "[]")


_NAMES = st.text(min_size=1, max_size=8).filter(lambda s: "\x00" not in s and ',"events":null' not in s)
_POINTS = st.one_of(
    st.just(0.0),
    st.just(-0.0),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**6), 10**6).map(float),
    st.sampled_from([0.1 + 0.2, 1e-7, 1e16, 1e21, -1e300, 5e-324, 123456789.125]),
)


@settings(max_examples=60, deadline=None)
@given(
    rules=st.lists(st.tuples(_NAMES, _NAMES, st.booleans()), max_size=6),
    dims=st.lists(_NAMES, max_size=3, unique=True),
    data=st.data(),
)
def test_breakdown_text_is_the_lists_json(rules: list[tuple[str, str, bool]], dims: list[str], data: Any) -> None:
    plan = _plan(rules, dims)
    row: dict[str, Any] = {}
    for i, (_, _, events) in enumerate(rules):
        row[f"points_{i}"] = data.draw(st.one_of(st.none(), _POINTS))
        if events:
            row[f"events_{i}"] = data.draw(st.one_of(st.none(), st.integers(0, 2**62)))
    for j in range(len(dims)):
        row[f"adjust_{j}"] = data.draw(_POINTS)
    listed, text = _both(plan, row)
    assert text == listed
