"""Results as `save_results` writes them: one lead's result, basis and score in one statement on
PostgreSQL (leadscore.store.results_repo), row for row what the statements for several leads write."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import Event, Result
from leadscore.store.backends import COPY_MIN_ROWS, json_text
from leadscore.store.outbox_repo import enqueue, enqueue_encoded, outbox_rows
from leadscore.store.results_repo import insert_many, result_writes
from leadscore.store.tables import outbox, result_basis, results, score_history, stage_history
from leadscore.triggers.firings import TriggerFiring
from tests.store.conftest import BACKENDS
from tests.store.helpers import b2b_service, mismatches, random_events, random_leads, written_rows

NOW = datetime(2026, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize("kind", BACKENDS)
def test_one_lead_at_a_time_writes_what_several_at_once_write(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    clock = [NOW]
    alone, together = (b2b_service(kind, tmp_path, name, request, clock) for name in ("alone", "together"))
    try:
        leads = random_leads(3, 12)
        alone.ingest_leads(leads)
        together.ingest_leads(leads)
        events = random_events(3, 12, 300)
        for step, start in enumerate(range(0, len(events), 25)):
            part = events[start : start + 25]
            clock[0] = NOW + timedelta(hours=step)
            by_lead: dict[str, list[Event]] = {}
            for event in part:
                by_lead.setdefault(event.lead_id, []).append(event)
            for lead_events in by_lead.values():  # each lead in a transaction of its own: the one-lead statement
                alone.ingest_events(lead_events)
            together.ingest_events(part)  # several leads a transaction: one statement per table
        expected, found = written_rows(together.store), written_rows(alone.store)
        assert len(expected["score_history"]) > len(leads)  # scores changed again and again: the check says something
        for table in expected:
            assert found[table] == expected[table], table
        assert _basis(alone) == _basis(together) and _basis(alone)
        assert mismatches(alone.store, alone.model) == []
    finally:
        alone.close()
        together.close()


def _basis(service: LeadService) -> list[tuple[str, int]]:
    with service.store.read() as conn:
        return [
            (r.lead_id, r.events_seen) for r in conn.execute(sa.select(result_basis).order_by(result_basis.c.lead_id))
        ]


@pytest.mark.parametrize("kind", BACKENDS)
def test_the_drivers_executemany_stores_the_text_sqlalchemys_statements_store(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`insert_many` binds the JSON columns as text itself: byte for byte what SQLAlchemy's JSON type
    writes (None as JSON null, non-ASCII escaped, key order kept), and its upserts replace every column;
    the outbox's rows (`enqueue`, which skips a key already stored) too, and those of `enqueue_encoded`
    (the payloads given as their text; on PostgreSQL many rows go through COPY)."""
    service = b2b_service(kind, tmp_path, "s", request, [NOW])
    row = {
        "model": "m ü",
        "model_version": "v1",
        "evaluated_at": 1_780_000_000_000_000,
        "score": 12.5,
        "dimensions": {"z": 1.0, "a": -0.0},
        "labels": {"t": None, "é": "hot"},
        "stage": None,
        "stage_history": [{"stage": "lead", "at": 1, "from": None, "cause": "initial", "event_id": "x\u2028y"}],
        "playbook": None,
        "queue_rank": 7,
        "breakdown": [{"rule": "r", "dimension": "z", "points": 1e-17, "events": None}],
        "next_change_at": None,
    }
    history = {"at": 5, "model_version": "v1", "score": 1.5, "delta": 0.1, "dimensions": {"b": 2}, "cause": "c"}
    try:
        with service.store.write() as conn:
            old = {**row, "score": 1.0, "playbook": {"index": 0}, "stage": "mql", "dimensions": {"q": 1}}
            for lead, written in (("a", old), ("b", old)):  # both replaced below, every column
                conn.execute(service.store.insert(results).values(lead_id=lead, **written))
            # several rows: one statement on PostgreSQL (`recordset_insert`); a NaN: the executemany
            other = {**old, "score": math.nan, "labels": {"ü": [1, None]}, "stage_history": []}
            insert_many(conn, results, [{"lead_id": "a", **row}, {"lead_id": "c", **old}])
            nan = kind == "postgres"  # SQLite stores a NaN as NULL: refused by the NOT NULL score
            insert_many(conn, results, [{"lead_id": "e", **other}, {"lead_id": "g", **row}][not nan :])
            upsert = service.store.insert(results)
            upsert = upsert.on_conflict_do_update(
                index_elements=["lead_id"], set_={c.name: upsert.excluded[c.name] for c in results.columns}
            )
            for lead, written in (("f", other), ("b", row), ("d", old), ("h", row))[0 if nan else 1 :]:
                conn.execute(upsert, [{"lead_id": lead, **written}])
            later = {**history, "at": 6, "dimensions": {"é": None, "a": [1e300, -0.0]}, "cause": "d"}
            insert_many(conn, score_history, [{"lead_id": "a", **history}, {"lead_id": "a", **later}])
            conn.execute(score_history.insert(), [{"lead_id": "b", **history}, {"lead_id": "b", **later}])
            # one lead twice in an upsert (one statement may not update a row twice): as row by row
            insert_many(conn, result_basis, [{"lead_id": "a", "events_seen": 1}, {"lead_id": "a", "events_seen": 2}])
            # the outbox (`enqueue`: the columns it writes, a stored key skipped) against SQLAlchemy's insert
            payload = {"data": {"result": {"é": [1e-17, None, "x\u2028y"], "z": {"b": -0.0, "a": 2}}}}
            firing = TriggerFiring("t", "a", "crm", NOW, "stage_changed", "lead", "mql", payload, "trg_a")
            second = dataclasses.replace(firing, key="trg_a2", payload={"n": [None, 2.5, "ü"]})
            enqueue(service.store, conn, [firing, second], 9)  # two rows: one statement on PostgreSQL
            enqueue(service.store, conn, [dataclasses.replace(firing, payload={"other": 1})], 10)
            others = [dataclasses.replace(f, lead_id="b", key=f.key.replace("_a", "_b")) for f in (firing, second)]
            service.store.insert_ignore(conn, outbox, outbox_rows(others, 9))
            # the payloads as their text (`enqueue_encoded`: the history pass's)
            third = [dataclasses.replace(f, lead_id="c", key=f.key.replace("_a", "_c")) for f in (firing, second)]
            enqueue_encoded(conn, third, [json_text(f.payload) for f in third], 9)
            enqueue_encoded(conn, [dataclasses.replace(third[0], payload={"other": 1})], ['{"other": 1}'], 10)
            # many rows (PostgreSQL's COPY) against `enqueue` of the same firings (leads r0..): a key
            # stored and one given twice skipped, a firing without a destination left out
            many = [
                dataclasses.replace(f, lead_id=f"m{k}", key=f"{f.key}_m{k}", payload={"k": k, **f.payload})
                for k in range(300)
                for f in (firing, second)
            ]
            many[7] = dataclasses.replace(many[7], destination=None)
            enqueue(
                service.store,
                conn,
                [dataclasses.replace(f, lead_id="r" + f.lead_id[1:], key="r" + f.key) for f in many],
                9,
            )
            dup = [dataclasses.replace(many[3], payload={"again": 1}), dataclasses.replace(many[4], key=many[3].key)]
            enqueue_encoded(conn, [*many, *dup], [json_text(f.payload) for f in [*many, *dup]], 9)
        for table in (results, score_history, outbox):
            a, b = (_raw(service, table, lead) for lead in ("a", "b"))
            assert a == b and a, table.name
        assert _raw(service, outbox, "c") == _raw(service, outbox, "a")
        if kind == "sqlite":  # its shared values written as literals (`_sqlite_encoded`): stored as bound
            assert _types(service, "c") == _types(service, "a") and _types(service, "m5") == _types(service, "r5")
        for k in range(300):
            assert _raw(service, outbox, f"m{k}") == _raw(service, outbox, f"r{k}") and len(
                _raw(service, outbox, f"m{k}")
            ) == (1 if k == 3 else 2)
        for ours, theirs in (("c", "d"), ("g", "h")):
            assert _raw(service, results, ours) == _raw(service, results, theirs)
        names = [c.name for c in results.columns if c.name != "lead_id"]
        if nan:
            stored = [_raw(service, results, lead)[0] for lead in ("e", "f")]
            assert [n[names.index("labels")] for n in stored] == ['{"\\u00fc": [1, null]}'] * 2
            assert all(math.isnan(n[names.index("score")]) for n in stored)
        assert len(_raw(service, score_history, "a")) == 2
        assert _raw(service, results, "a")[0][names.index("playbook")] == "null"  # JSON null, not SQL NULL
        with service.store.read() as conn:
            assert conn.execute(sa.select(result_basis.c.events_seen)).scalars().all() == [2]
    finally:
        service.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_many_history_rows_store_what_sqlalchemys_insert_stores(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`insert_many` of a history table's rows, from `COPY_MIN_ROWS` of them (PostgreSQL: one COPY,
    `_copy_rows`), against SQLAlchemy's insert of the same rows: the same values (texts with tabs, line
    breaks, backslashes and quotes, NULLs, JSON as its text, doubles to the last bit), numbered in
    their order."""
    service = b2b_service(kind, tmp_path, "s", request, [NOW])
    n = COPY_MIN_ROWS + 3
    odd = ["a\tb", "x\ny", "back\\slash", 'it\'s "q"', "ü \u2028", "\\N", ""]
    scores = [
        {
            "at": k,
            "model_version": "v1",
            "score": (0.1 + 0.2) * k,
            "delta": -0.0 if k % 2 else 1e300,
            "dimensions": {"é": [k, None, odd[k % len(odd)]], "a": 1e-17 * k},
            "cause": odd[k % len(odd)],
        }
        for k in range(n)
    ]
    stages = [
        {
            "at": k,
            "from_stage": None if k % 3 else odd[k % len(odd)],
            "to_stage": f"s{k % 5}",
            "cause": "initial",
            "event_key": None if k % 2 else f"L/{odd[k % len(odd)]}",
            "model_version": "v1",
        }
        for k in range(n)
    ]
    try:
        with service.store.write() as conn:
            for table, rows in ((score_history, scores), (stage_history, stages)):
                insert_many(conn, table, [{"lead_id": "a", **r} for r in rows])
                conn.execute(table.insert(), [{"lead_id": "b", **r} for r in rows])
        for table in (score_history, stage_history):
            a, b = (_raw(service, table, lead) for lead in ("a", "b"))
            assert a == b and len(a) == n, table.name
            assert [r[0] for r in a] == list(range(n))  # `at`: in the order given
    finally:
        service.close()


def _types(service: LeadService, lead: str) -> list[tuple[object, ...]]:
    """SQLite: each outbox column's storage class in a lead's rows (an integer stored as a real, or a
    text as a number, compares equal in Python)."""
    cols = ", ".join(f"typeof({c.name})" for c in outbox.columns if c.name != "id")
    with service.store.read() as conn:
        rows = conn.exec_driver_sql(f"SELECT {cols} FROM outbox WHERE lead_id = ? ORDER BY id", (lead,)).all()
    assert rows
    return [tuple(r) for r in rows]


def _raw(service: LeadService, table: sa.Table, lead: str) -> list[tuple[object, ...]]:
    """A lead's rows as stored, in the order of their serial id: every column but that id (and an
    outbox row's key), the JSON ones as their text."""
    cols = [
        sa.cast(c, sa.Text) if isinstance(c.type, sa.JSON) else c
        for c in table.columns
        if c.name not in ("id", "lead_id", "idempotency_key")
    ]
    with service.store.read() as conn:
        query = sa.select(*cols).where(table.c.lead_id == lead)
        if "id" in table.columns:
            query = query.order_by(table.c.id)
        return [tuple(r) for r in conn.execute(query)]


def _result(score: float, dimensions: dict[str, float]) -> Result:
    return Result("L1", NOW, "m", "v1", score, dimensions, {}, None, ())


@pytest.mark.parametrize(
    ("before", "after", "history"),
    [
        # a decaying dimension far below the last bits of any score: no change (the bulk path's test too)
        (
            (-15.0, {"fit": -3.5797023468073067e-32, "engagement": -15.0}),
            (-15.0, {"fit": -3.2557203183453627e-44, "engagement": -15.0}),
            False,
        ),
        ((0.1 + 0.2, {"a": 0.1 + 0.2}), (0.3, {"a": 0.3}), False),  # the sum in another order
        ((-15.0, {"fit": 0.0, "engagement": -15.0}), (-15.0, {"fit": 1e-9, "engagement": -15.0}), True),
        ((40.0, {"a": 40.0}), (40.0 + 1e-9, {"a": 40.0 + 1e-9}), True),
        ((40.0, {"a": 40.0}), (40.0, {"a": 40.0, "b": 0.0}), True),  # another dimension
    ],
)
def test_a_score_history_row_is_written_for_a_change_beyond_the_last_bits_of_a_double(
    before: tuple[float, dict[str, float]], after: tuple[float, dict[str, float]], history: bool
) -> None:
    """The pure path's test of a change is the bulk path's (`bulk.write.close_sql`): the same
    tolerance, so both write the same score history (a generated model's decaying dimension once got a
    row from one and none from the other)."""
    previous = {"L1": {"score": before[0], "dimensions": before[1]}}
    scores = result_writes([(_result(*after), None)], previous, "refresh")[2]
    assert bool(scores) is history


def test_the_stage_moves_from_the_walks_times_are_those_read_from_the_changes() -> None:
    """`_stage_moves` given the changes' microseconds (the bulk path's walk) writes the rows it
    writes reading them from the changes: a change at the last evaluation's very time is not new,
    one a microsecond later is; with no move since, the row that explains a new stage."""
    from leadscore.domain.result import StageChange
    from leadscore.domain.timeutil import from_micros, to_micros
    from leadscore.store.results_repo import _stage_moves

    since = to_micros(NOW)
    history = (
        StageChange("lead", from_micros(since - 5), None, "initial"),
        StageChange("mql", from_micros(since), "lead", "auto"),
        StageChange("sql", from_micros(since + 1), "mql", "event:sales_accepted", "e1"),
    )
    result = Result("l1", NOW + timedelta(days=1), "m", "v1", 1.0, {}, {}, "sql", (), None, history)
    times = [to_micros(c.at) for c in history]
    cases = [
        None,
        {"evaluated_at": since, "stage": "mql"},
        {"evaluated_at": since + 1, "stage": "lead"},  # nothing after: the move into sql explains it
        {"evaluated_at": since + 1, "stage": "sql"},
    ]
    for prev in cases:
        rows = _stage_moves(result, prev, "model:v1", times)
        assert rows == _stage_moves(result, prev, "model:v1")
    assert [r["to_stage"] for r in _stage_moves(result, cases[1], "c", times)] == ["sql"]
    assert [(r["from_stage"], r["at"]) for r in _stage_moves(result, cases[2], "c", times)] == [("lead", since + 1)]
    assert _stage_moves(result, cases[3], "c", times) == []
