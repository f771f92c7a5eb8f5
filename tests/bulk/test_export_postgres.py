"""PostgreSQL's export for the batch engine through the ADBC driver (`bulk.adbc_postgres`, binary COPY
into Arrow) reads exactly what the `COPY ... (FORMAT csv)` path reads: the typed tables of leads and
events, row by row, on values a CSV round trip gets wrong when it is careless (NULL against the empty
string, quotes, commas, line breaks, a literal `\\N`, non-ASCII text, doubles and whole numbers)."""

from __future__ import annotations

import pytest

from leadscore.batch.duckdb.run import connect
from leadscore.bulk import adbc_postgres, export
from leadscore.model import parse_model
from leadscore.store import LeadStore
from leadscore.store.tables import events, leads
from tests.bulk.test_lifecycle import RECYCLE
from tests.store.helpers import START

AWKWARD = ["", "a,b", 'say "hi"', "two\nlines", "tab\there", "\\N", "NULL", "é ß 中", " ", "/pricing"]


def _fill(store: LeadStore) -> None:
    """Rows written as they are (the ingest would refuse such stages): what the export reads is the
    point, not whether a model accepts it."""
    numbers: list[object] = [0, -0.0, 1.5, 0.1 + 0.2, 1e15 + 0.5, 2**53, "150", None, True]
    ids = [f"L{i}{s}" for i, s in enumerate(AWKWARD)]
    lead_rows = [
        {"id": i, "attributes": {"employees": numbers[k % len(numbers)], "stage": s}, "created_at": 0, "updated_at": 0}
        for k, (i, s) in enumerate(zip(ids, AWKWARD, strict=True))
    ]
    lead_rows.append({"id": "bare", "attributes": {}, "created_at": 0, "updated_at": 0})
    event_rows = []
    at = int(START.timestamp() * 1_000_000)
    for i, row in enumerate(lead_rows):
        for k, value in enumerate(["(absent)", *AWKWARD, None, 3, 2.5, False]):
            event_rows.append(
                {
                    "event_key": f"e{i}-{k}",
                    "lead_id": row["id"],
                    "received_lead_id": row["id"] if k % 5 else "elsewhere",  # a moved event's id too
                    "type": "page_view" if k % 7 else "stage_set",
                    "ts": at + 3_600_000_000 * (20 * i + k),
                    "properties": {} if k == 0 else {"path": value, "stage": value},
                    "ingested_at": 0,
                }
            )
    with store.write() as conn:
        conn.execute(leads.insert(), lead_rows)
        conn.execute(events.insert(), event_rows)


def _export(store: LeadStore, adbc: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict], list[dict]]:
    monkeypatch.setattr(export, "POSTGRES_ADBC", adbc)
    con = connect()
    try:
        model = parse_model(RECYCLE)
        at = int(START.timestamp() * 1_000_000) + 10**14
        leads, events = export.export_store(store, model, at, con)
    finally:
        con.close()
    return (
        sorted(leads.to_pylist(), key=lambda r: r["id"]),
        sorted(events.to_pylist(), key=lambda r: (r["lead_id"], r["_ls_ord"])),
    )


def test_the_adbc_export_reads_what_the_csv_export_reads(store: LeadStore, monkeypatch: pytest.MonkeyPatch) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the ADBC PostgreSQL reader is PostgreSQL's")
    assert adbc_postgres.available()
    _fill(store)
    calls: list[str] = []
    real = adbc_postgres.postgres_batches

    def counted(*args: object, **kwargs: object) -> object:
        calls.append("adbc")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(adbc_postgres, "postgres_batches", counted)
    by_csv = _export(store, False, monkeypatch)
    assert not calls
    by_adbc = _export(store, True, monkeypatch)
    assert calls  # the driver was used
    assert len(by_adbc[1]) == (len(AWKWARD) + 1) * (len(AWKWARD) + 5)
    assert by_adbc == by_csv
    paths = {r.get("path::str") for r in by_adbc[1]}
    assert "" in paths and None in paths and "two\nlines" in paths and "\\N" in paths


def test_an_empty_result_reads_as_an_empty_table_of_the_schema(store: LeadStore) -> None:
    import pyarrow as pa

    if store.engine.dialect.name != "postgresql":
        pytest.skip("the ADBC PostgreSQL reader is PostgreSQL's")
    schema = pa.schema([("id", pa.string()), ("n", pa.int64())])
    table = adbc_postgres.read_postgres(store.engine.url, "SELECT id, 1 AS n FROM leads WHERE false", schema)
    assert table.schema == schema and table.num_rows == 0


def test_each_leads_part_is_the_part_whose_query_selects_it(store: LeadStore) -> None:
    """`export_spill.LeadParts`: the database numbers each id once in its collation, as the parts' own
    queries compare (`lifecycle_parts.part_queries`), ids with `%` and quotes included; an id no lead
    holds (an event's lead added after the bounds were read) is asked for as well. The one scan cuts
    every lead's events into that part."""
    import pyarrow as pa
    import sqlalchemy as sa

    from leadscore.bulk.export_spill import LeadParts, spill_events
    from leadscore.bulk.lifecycle_parts import bounds, part_queries

    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's parts compare bytes in this process (`spill_files.part_of`)")
    _fill(store)
    more = [{"id": i, "attributes": {}, "created_at": 0, "updated_at": 0} for i in ("L%s", "L'q", "l0")]
    with store.write() as conn:
        conn.execute(leads.insert(), more)
    starts = bounds(store, None, 3)
    assert len(starts) > 3
    by_query: dict[str, int] = {}
    with store.read() as conn:
        for k, sql in enumerate(part_queries(starts, None)):
            by_query.update((row[0], k) for row in conn.exec_driver_sql(sql.replace("%", "%%")))
        # an id no lead holds: how many of the later parts' starts it is at or above, in the database
        count = sa.text("SELECT count(*) FROM unnest(CAST(:s AS text[])) AS t(s) WHERE :x >= s")
        for name in ("L%s0", "zzz", "", "L'q0"):
            by_query[name] = conn.execute(count, {"s": starts[1:], "x": name}).scalar_one()
    names = sorted(by_query)
    parts = LeadParts(store, starts)
    got = parts.of(pa.chunked_array([pa.array(names[::-1]), pa.array(names)]))
    assert got.tolist() == [by_query[n] for n in names[::-1] + names]
    assert set(got.tolist()) == set(range(len(starts)))
    spill = spill_events(store, parse_model(RECYCLE), int(START.timestamp() * 1_000_000) + 10**14, None, starts, True)
    try:
        for k in spill.files:
            assert {by_query[i] for i in spill.table(k).column("lead_id").to_pylist()} == {k}
        assert sum(spill.table(k).num_rows for k in spill.files) == (len(AWKWARD) + 1) * (len(AWKWARD) + 5)
    finally:
        spill.close()
