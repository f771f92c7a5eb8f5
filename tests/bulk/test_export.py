"""The export's reads of a SQLite store (`bulk.export`)."""

from __future__ import annotations

import sqlite3

from leadscore.bulk.export import range_sql


def test_the_rowid_range_is_read_at_the_keys_ends_not_by_a_scan() -> None:
    """`range_sql`: the same least and greatest values as `min(x), max(x)`, each a lookup of one end of
    the key (SQLite's plan SEARCH), where `SELECT min(x), max(x)` scans an index of the whole table."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE events (seq INTEGER NOT NULL, lead_id TEXT, CONSTRAINT pk PRIMARY KEY (seq))")
    db.execute("CREATE INDEX ix ON events (lead_id, seq)")
    db.executemany("INSERT INTO events VALUES (?, ?)", [(s, f"L{s % 7}") for s in range(5, 905, 3)])
    assert db.execute(range_sql("events", "seq")).fetchone() == (5, 902)
    assert db.execute("SELECT min(seq), max(seq) FROM events").fetchone() == (5, 902)
    plan = [row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {range_sql('events', 'seq')}")]
    assert not any(step.startswith("SCAN events") for step in plan), plan
    assert sum(step.startswith("SEARCH events") for step in plan) == 2, plan
    slow = [row[-1] for row in db.execute("EXPLAIN QUERY PLAN SELECT min(seq), max(seq) FROM events")]
    assert any(step.startswith("SCAN events") for step in slow), slow
    empty = sqlite3.connect(":memory:")
    empty.execute("CREATE TABLE leads (id TEXT)")
    assert empty.execute(range_sql("leads", "rowid")).fetchone() == (None, None)


def test_property_types_are_the_types_read_through_a_filter() -> None:
    """`property_types`: the rules' and conditions' types with a `where:`, the aggregates', and
    `stage_set` with a lifecycle; not the types only counted (`demo_request`, `email_open` here)."""
    from pathlib import Path

    from leadscore.bulk.export import property_types
    from leadscore.model import load_model

    b2b = load_model(Path(__file__).resolve().parents[2] / "examples" / "b2b-saas" / "model.yaml")
    assert property_types(b2b) == ("page_view", "stage_set")


def test_each_key_is_taken_out_of_the_events_of_its_own_types_on_postgres() -> None:
    """`key_types`: a key's types are those of the rules and conditions that read it (`stage` on
    `stage_set` alone with a lifecycle); PostgreSQL's events query takes each key out of those rows only,
    SQLite's raw text out of the rows of every such type, as before."""
    from pathlib import Path

    from leadscore.bulk.export import event_query, key_types, property_types
    from leadscore.model import load_model
    from leadscore.store.backends import PostgresStore, SqliteStore

    b2b = load_model(Path(__file__).resolve().parents[2] / "examples" / "b2b-saas" / "model.yaml")
    assert key_types(b2b) == {"channel": ("page_view",), "page_type": ("page_view",), "stage": ("stage_set",)}
    assert property_types(b2b) == tuple(sorted({t for types in key_types(b2b).values() for t in types}))
    sql = event_query(PostgresStore, b2b, 0, None).sql  # (the query needs the backend's SQL only)
    assert "CASE WHEN type IN ('page_view') THEN CAST(properties -> 'channel' AS TEXT) END" in sql
    assert "CASE WHEN type IN ('stage_set') THEN CAST(properties -> 'stage' AS TEXT) END" in sql
    raw = event_query(SqliteStore, b2b, 0, None).sql
    assert "CASE WHEN type IN ('page_view', 'stage_set') THEN properties END AS _p" in raw


def test_the_converter_keeps_the_plain_columns_and_types_the_keys_as_the_whole_query_does() -> None:
    """The plain columns pass through unchanged beside the slots DuckDB makes from the JSON text; a
    plain column of another Arrow type goes through the whole query, which gives the same slots."""
    import duckdb
    import pyarrow as pa
    import pytest

    from leadscore.bulk.typed_slots import Unsupported, converter, typed_sql

    props = ['{"plan": "pro", "seats": 3}', None, '{"plan": true}', '{"seats": 2.5, "x": 1}', "{}"]
    raw = pa.table(
        {
            "lead_id": ["a", "b", "c", "d", "e"],
            "ts": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "_p": pa.array(props, pa.string()),
        }
    )
    con = duckdb.connect()
    keys = ("plan", "seats")
    got = converter(con, ["lead_id", "ts"], keys, True)(raw)
    con.register("_st_raw", raw)
    whole = con.sql(typed_sql(["lead_id", "ts"], keys, True)).to_arrow_table().drop_columns(["_ls_bad"])
    assert got.equals(whole)
    assert got.column("plan::str").to_pylist() == ["pro", None, None, None, None]
    assert got.column("seats::num").to_pylist() == [3.0, None, None, 2.5, None]
    assert got.column("plan::bool").to_pylist() == [None, None, True, None, None]
    # a plain column DuckDB would hand back as another type: the whole query, the same slots
    narrow = raw.set_column(1, "ts", raw.column("ts").cast(pa.int32()))
    other = converter(con, ["lead_id", "ts"], keys, True)(narrow)
    assert other.drop_columns(["ts"]).equals(got.drop_columns(["ts"]))
    # a connection free to reorder rows (a run's): the whole query, the same rows
    con.execute("SET preserve_insertion_order = false")
    assert converter(con, ["lead_id", "ts"], keys, True)(raw).equals(got)
    con.execute("SET preserve_insertion_order = true")
    with pytest.raises(Unsupported):  # a nested value, as before
        converter(con, ["lead_id"], keys, True)(pa.table({"lead_id": ["a"], "_p": ['{"plan": {"a": 1}}']}))


# JSON values as written in a stored event's properties: numbers in every form (whole, signed zero,
# exponent, past 64 bits, past a double, subnormal), texts with escapes, booleans, null, nested values
_FRAGMENTS = [
    "1",
    "-0",
    "-0.0",
    "0.1",
    "1e400",
    "-1E5",
    "1.0",
    "123.4560",
    "9007199254740992",
    "9007199254740993",
    "-9007199254740993",
    "12345678901234567890",
    "123456789012345678901234567890123456789012",
    "-9223372036854775809",
    "5e-324",
    "true",
    "false",
    "null",
    '"x"',
    '"1"',
    '""',
    '"true"',
    '"a\\"b\\u00e9\\n\\ud83d\\ude00"',
    "[1, 2]",
    '{"a": 1}',
]


def _typed_rows(fragments: list[str | None], raw: bool) -> tuple[list[dict[str, object]], bool]:
    """The typed slots of one key `k` holding each JSON fragment (None: the key absent), through the
    raw path (`_p`, one JSON text an event) or the one of a JSON value a key (`_j0`); and whether some
    row is one no slot holds (`_ls_bad`)."""
    import duckdb
    import pyarrow as pa

    from leadscore.bulk.typed_slots import typed_sql

    if raw:
        column = "_p"
        texts = ["{}" if f is None else '{"x": 0, "k": ' + f + "}" for f in fragments]
    else:
        column = "_j0"
        texts = list(fragments)
    con = duckdb.connect()
    con.register("_st_raw", pa.table({"n": list(range(len(texts))), column: pa.array(texts, pa.string())}))
    out = con.sql(typed_sql(["n"], ["k"], raw) + " ORDER BY n").to_arrow_table()
    rows = out.drop_columns(["_ls_bad"]).to_pylist()
    return rows, any(out.column("_ls_bad").to_pylist())


def test_the_raw_typing_of_one_value_equals_the_typing_of_the_value_alone() -> None:
    """The raw path types each key from `_p`'s JSON types and texts of all keys at once; its slots (and
    the values no slot holds) are those of the key's JSON value typed on its own, value by value."""
    import math

    for fragment in [*_FRAGMENTS, None]:
        if fragment == "-0":  # a whole zero: 0 as Python reads it; the value alone keeps its sign (below)
            continue
        raw, raw_bad = _typed_rows([fragment], True)
        alone, alone_bad = _typed_rows([fragment], False)
        for a, b in zip(raw, alone, strict=True):
            assert a.keys() == b.keys()
            for name in a:  # NaN never, but the same float bit for bit (-0.0, inf)
                x, y = a[name], b[name]
                if isinstance(x, float) and isinstance(y, float):
                    assert math.copysign(1.0, x) == math.copysign(1.0, y) and (x == y), (fragment, name)
                else:
                    assert x == y, (fragment, name, x, y)
        assert raw_bad == alone_bad, fragment
    rows, bad = _typed_rows(['"pro"', "3", "true", None, "2.5"], True)
    assert [r["k::str"] for r in rows] == ["pro", None, None, None, None]
    assert [r["k::num"] for r in rows] == [None, 3.0, None, None, 2.5]
    assert [r["k::bool"] for r in rows] == [None, None, True, None, None]
    assert not bad
    assert str(_typed_rows(["-0"], True)[0][0]["k::num"]) == "0.0"  # json.loads("-0") == 0, as before
    assert _typed_rows(["9007199254740993"], True)[1] and _typed_rows(["[1]"], True)[1]


def test_the_raw_typing_of_many_keys_equals_each_key_alone() -> None:
    """Several keys of one event: each key's slots are those it has alone (the lists' positions)."""
    import duckdb
    import pyarrow as pa
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from leadscore.bulk.typed_slots import typed_sql

    keys = ["a", "b b", 'q"x', "é"]

    values = st.one_of(st.none(), st.sampled_from([f for f in _FRAGMENTS if f != "-0"]))

    @settings(deadline=None)
    @given(st.lists(st.lists(values, min_size=4, max_size=4), max_size=8))
    def check(events: list[list[str | None]]) -> None:
        import json

        texts = [
            "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in zip(keys, ev, strict=True) if v is not None) + "}"
            for ev in events
        ]
        con = duckdb.connect()
        con.register("_st_raw", pa.table({"n": list(range(len(texts))), "_p": pa.array(texts, pa.string())}))
        got = con.sql(typed_sql(["n"], keys, True) + " ORDER BY n").to_arrow_table().drop_columns(["_ls_bad"])
        for i, key in enumerate(keys):
            alone, _ = _typed_rows([ev[i] for ev in events], False)
            for name in (f"{key}::num", f"{key}::str", f"{key}::bool"):
                want = [r[f"k::{name.split('::')[1]}"] for r in alone]
                assert got.column(name).to_pylist() == want, (key, name)

    check()
