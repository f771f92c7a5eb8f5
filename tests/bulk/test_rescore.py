"""`model plan` over a store through the batch engine: the same results as the pure scorer, per lead."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.maintenance import all_lead_batches, apply, due_sql, refresh, score_all
from leadscore.app.service import LeadService
from leadscore.bulk.rescore import BatchRescored, score_store
from leadscore.bulk.writeback import rescore_store
from leadscore.domain import Event
from leadscore.model import parse_model
from leadscore.store import LeadStore, open_store
from leadscore.store.ingest import ingest_events
from leadscore.store.pipeline import Evaluator
from leadscore.store.tables import results, score_history
from tests.batch.compare import differences, same
from tests.store.conftest import BACKENDS, CLOCK_START, MODEL, FixedClock, twin_urls
from tests.store.helpers import START, random_events, random_leads

PLAN_MODEL = """
format: 1
name: plan-b2b
dimensions:
  fit: {}
  engagement: {cap: 100}
rules:
  - {id: big, dimension: fit, when: {attribute: employees, gte: 100}, points: 30}
  - {id: visit, dimension: engagement, on: page_view, points: 5, within: 30d}
  - {id: pricing, dimension: engagement, on: page_view, where: {path: {contains: pricing}}, points: 20,
     decay: {half_life: 7d}}
  - {id: demo, dimension: engagement, on: demo_request, points: 40, once: true}
  - {id: quiet, dimension: engagement, when: {none: page_view, within: 14d}, points: -10}
labels:
  temperature:
    - {label: hot, when: {score: total, gte: 60}}
    - {label: cold}
lifecycle:
  stages: [lead, mql, sql]
  exits: [recycled]
  transitions:
    - {to: mql, when: {all: [{score: total, gte: 60}, {score: engagement, gte: 25}]}}
    - {to: recycled, on: email_open, from: [mql]}
    - {to: lead, from: [recycled], when: {score: engagement, lt: 20}}
playbooks:
  - {name: call, when: {stage: {in: [mql, sql]}}, priority: 1, action: Call now}
  - {name: newsletter, action: Newsletter}
"""


def test_plan_through_the_batch_engine_equals_the_pure_scorer(service: LeadService, store: LeadStore) -> None:
    service.ingest_leads(random_leads(7, 40))
    service.ingest_events(random_events(7, 40, 600, days=60))
    evaluator = Evaluator(parse_model(PLAN_MODEL))
    at = service.now_us()
    assert score_store(store, evaluator, at) is not None  # the model and data suit the batch engine
    got = [d for done in score_all(store, evaluator, at, batch_size=16) for d in done.results]
    expected = []
    for ids in all_lead_batches(store, 16):
        with store.read() as conn:
            expected += evaluator.rescore(store, conn, ids, at, "plan", write=False, keep=True).results
    assert len(got) == 40
    assert {r.stage for r in expected} >= {"lead", "mql"}  # the replay decides real stages here
    diff = differences([r.to_dict() for r in expected], [r.to_dict() for r in got])
    assert not diff, "\n".join(diff[:10])


def test_plan_keeps_the_pure_scorer_for_models_with_triggers(
    make_service: Callable[..., LeadService], store: LeadStore
) -> None:
    service = make_service()  # the store tests' model fires triggers, which need each stage history
    assert service.model.triggers
    assert score_store(store, service.evaluator, service.now_us()) is None


# -- model apply / refresh in bulk ------------------------------------------------------------------
RULES_MODEL = """
format: 1
name: bulk-b2b
dimensions:
  fit: {floor: 0}
  engagement: {floor: -20, cap: 80}
rules:
  - {id: big, dimension: fit, when: {attribute: employees, gte: 100}, points: 30}
  - {id: example-mail, dimension: fit, when: {attribute: email, contains: "@a."}, points: 5}
  - {id: visit, dimension: engagement, on: page_view, points: 5, within: 30d, limit: 40}
  - {id: pricing, dimension: engagement, on: page_view, where: {path: {contains: pricing}}, points: 20,
     decay: {half_life: 7d}}
  - {id: big-plan, dimension: engagement, on: trial, where: {plan: {gte: 3}}, points: 7}
  - {id: pro-plan, dimension: engagement, on: trial, where: {plan: pro}, points: 11, decay: {linear: 20d}}
  - {id: demo, dimension: engagement, on: demo_request, points: 40, once: true}
  - {id: quiet, dimension: engagement, when: {none: page_view, within: 14d}, points: -10}
  - {id: recent-mail, dimension: engagement, when: {last: email_open, newer_than: 10d}, points: 3}
labels:
  temperature:
    - {label: hot, when: {score: total, gte: 60}}
    - {label: warm, when: {score: total, gt: 0}}
    - {label: cold}
playbooks:
  - {name: call, when: {label: temperature, eq: hot}, priority: 1, action: Call now, content: [script]}
  - {when: {score: fit, gte: 30}, action: Nurture}
  - {name: newsletter, priority: 9, action: Newsletter, when: {score: total, gt: -5}}
"""


def _extra_events(n_leads: int) -> list[Event]:
    """A property holding a number in some events and text in others, and events after `at`."""
    out = []
    for i in range(0, n_leads, 3):
        plan: object = ["pro", 2, 5, True][i % 4]
        out.append(Event(f"L{i:04d}", "trial", START + timedelta(days=40 + i % 20), {"plan": plan}, f"t{i}"))
    for i in range(0, n_leads, 7):  # stored already, but after the evaluation time
        out.append(Event(f"L{i:04d}", "page_view", START + timedelta(days=200 + i), {"path": "/pricing"}, f"f{i}"))
    return out


def _snapshot(store: LeadStore) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with store.read() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(results).order_by(results.c.lead_id)).mappings()]
        query = sa.select(score_history).order_by(score_history.c.lead_id, score_history.c.id)
        hist = [{k: v for k, v in r.items() if k != "id"} for r in conn.execute(query).mappings()]
    return rows, hist


def _twin_data(service: LeadService) -> None:
    service.ingest_leads(random_leads(11, 45))
    service.ingest_events(random_events(11, 45, 500, days=60) + _extra_events(45))


@pytest.fixture(params=BACKENDS)
def twins(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock
) -> Iterator[tuple[LeadService, LeadService]]:
    """Two stores of the same backend holding the same leads, events and results (scored by the store
    tests' model, which has a lifecycle and triggers); ingested once per worker and backend, then copied
    for each test, as test_lifecycle's twins."""
    assert clock.now == CLOCK_START
    urls = twin_urls(request.param, "rescore_twins", _twin_data, tmp_path, request)
    pair = [LeadService(open_store(url), model_path=tmp_path / "model.yaml", clock=clock) for url in urls]
    yield pair[0], pair[1]
    for service in pair:
        service.store.dispose()


def _same_state(a: LeadStore, b: LeadStore) -> None:
    rows_a, hist_a = _snapshot(a)
    rows_b, hist_b = _snapshot(b)
    diff = same(rows_b, rows_a, "results") + same(hist_b, hist_a, "score_history")
    if len(hist_a) != len(hist_b):
        ka = {(h["lead_id"], h["cause"]) for h in hist_a}
        kb = {(h["lead_id"], h["cause"]) for h in hist_b}
        diff = [f"history only in bulk {sorted(ka - kb)}, only in pure {sorted(kb - ka)}", *diff]
    assert not diff, "\n".join(diff[:10])


def _adds_up(store: LeadStore) -> None:
    rows, hist = _snapshot(store)
    total: dict[str, float] = {}
    for h in hist:
        total[h["lead_id"]] = total.get(h["lead_id"], 0.0) + h["delta"]
    assert {r["lead_id"] for r in rows} == set(total)
    for r in rows:
        assert math.isclose(total[r["lead_id"]], r["score"], abs_tol=1e-9), r["lead_id"]


@pytest.mark.slow
@pytest.mark.parametrize("writer", ["driver", "adbc"])
def test_bulk_rescore_stores_what_the_pure_path_stores(
    twins: tuple[LeadService, LeadService], clock: FixedClock, writer: str
) -> None:
    fast, pure = twins
    if writer == "adbc" and fast.store.name != "sqlite":
        pytest.skip("the ADBC writer serves SQLite stores")
    minimum = 0 if writer == "adbc" else 10**9  # SQLite: results written through ADBC, or the store's driver
    evaluator = Evaluator(parse_model(RULES_MODEL))
    version = f"model:{evaluator.version}"
    done = rescore_store(fast.store, evaluator, fast.now_us(), version, adbc_min_rows=minimum)  # `model apply`
    reference = apply(pure.store, evaluator, pure.now_us, bulk=False)
    assert isinstance(done, BatchRescored) and not isinstance(reference, BatchRescored)
    assert done.leads == reference.leads == 45 and done.fallback_leads == 0
    _same_state(fast.store, pure.store)
    assert done.changed == reference.changed > 0
    rows, _ = _snapshot(fast.store)
    assert {r["playbook"]["action"] if r["playbook"] else None for r in rows} >= {"Call now", "Newsletter", None}
    assert any(r["next_change_at"] is not None for r in rows)
    _adds_up(fast.store)

    again = rescore_store(fast.store, evaluator, fast.now_us(), version, adbc_min_rows=minimum)
    assert again is not None and again.changed == 0  # the same model at the same time: nothing to tell
    _same_state(fast.store, pure.store)

    clock.advance(days=9)
    at = fast.now_us()
    due = due_sql(fast.store, at, evaluator.version)
    done = rescore_store(fast.store, evaluator, at, "refresh", ids=due, adbc_min_rows=minimum)
    reference = refresh(pure.store, evaluator, pure.now_us, bulk_min=None)
    assert done is not None and 0 < done.leads == reference.leads < 45  # only the due leads were evaluated
    assert done.changed == reference.changed
    _same_state(fast.store, pure.store)  # evaluated_at tells which leads each one rescored
    _adds_up(fast.store)
    assert refresh(fast.store, evaluator, fast.now_us, bulk_min=None).leads == 0  # none left due


def test_apply_and_refresh_take_the_bulk_path_when_the_model_allows(
    twins: tuple[LeadService, LeadService], clock: FixedClock
) -> None:
    fast, pure = twins
    evaluator = Evaluator(parse_model(RULES_MODEL))
    done = apply(fast.store, evaluator, fast.now_us)
    apply(pure.store, evaluator, pure.now_us, bulk=False)
    clock.advance(days=9)
    refreshed = refresh(fast.store, evaluator, fast.now_us, bulk_min=1)
    few = refresh(pure.store, evaluator, pure.now_us, bulk_min=10_000)  # too few due leads: the batches
    assert not isinstance(few, BatchRescored)
    if fast.store.name == "sqlite":  # PostgreSQL first tries its in-database path (leadscore.bulk.in_database)
        assert isinstance(done, BatchRescored) and isinstance(refreshed, BatchRescored)
    assert refreshed.leads == few.leads > 0
    _same_state(fast.store, pure.store)


def test_models_with_lifecycle_or_triggers_take_the_bulk_path(
    twins: tuple[LeadService, LeadService], clock: FixedClock
) -> None:
    """(Row by row equality with the pure path: tests/bulk/test_lifecycle.py.)"""
    fast, pure = twins
    lifecycle = parse_model(MODEL.split("triggers:")[0])  # the store tests' model without its triggers
    done = apply(fast.store, Evaluator(lifecycle), fast.now_us)
    assert isinstance(done, BatchRescored) and done.leads == 45
    assert done.history_leads > 0  # the leads whose stage moved: their history from the SQL replay
    assert done.fallback_leads + done.history_leads < 45  # and the others straight from the query
    triggers = parse_model(RULES_MODEL + TRIGGER)
    done = apply(fast.store, Evaluator(triggers), fast.now_us)
    assert isinstance(done, BatchRescored) and done.firings  # fired for the leads whose label became hot
    quiet = rescore_store(pure.store, Evaluator(triggers, fire_triggers=False), pure.now_us(), "q")  # --quiet
    assert isinstance(quiet, BatchRescored) and quiet.fallback_leads == 0


TRIGGER = """
triggers:
  - {id: hot, on: label_changed, set: temperature, to: hot, destination: chat}
"""


def test_export_read_by_two_parallel_readers_equals_one_reader(twins: tuple[LeadService, LeadService]) -> None:
    import duckdb

    from leadscore.bulk.export import export_store

    store = twins[0].store
    model = parse_model(RULES_MODEL)
    con = duckdb.connect()
    at = twins[0].now_us()
    one = export_store(store, model, at, con)  # a small store: one reader
    two = export_store(store, model, at, con, split=100)  # SQLite: two readers, each over half the rows
    assert one[1].num_rows > 200 and one[0].num_rows == 45
    assert {"plan::num", "plan::str", "plan::bool", "email::str"} <= set(one[0].column_names + one[1].column_names)
    for a, b in zip(one, two, strict=True):
        assert a.equals(b), (a.schema, b.schema)
    con.close()


def test_a_parts_events_read_by_the_one_scan_are_of_its_leads_only(twins: tuple[LeadService, LeadService]) -> None:
    """`export_store(events=)`: the part's rows of the one scan (`export_spill`) give what the part's own
    read gives: kept whole when every row is of its leads, filtered when some are not."""
    import duckdb
    import pyarrow.compute as pc

    from leadscore.bulk.export import export_store
    from leadscore.bulk.export_spill import spill_events

    store = twins[0].store
    model = parse_model(RULES_MODEL)
    con = duckdb.connect()
    at = twins[0].now_us()
    spill = spill_events(store, model, at, None, ["L0000", "L0020"])
    try:
        assert spill.folder.name.startswith(f"leadscore-parts-{os.getpid()}-")  # `sweep_stale` reads it
        part = spill.table(0)  # the events of the leads below L0020, typed
        assert set(part.column("lead_id").to_pylist()) >= {"L0001", "L0019"}
        for ids in ("SELECT id FROM leads WHERE id < 'L0020'", "SELECT id FROM leads WHERE id < 'L0010'"):
            got = export_store(store, model, at, con, ids=ids, events=part)
            read = export_store(store, model, at, con, ids=ids)
            assert got[0].equals(read[0])
            order = [("lead_id", "ascending"), ("_ls_ord", "ascending")]
            a, b = (t.take(pc.sort_indices(t, sort_keys=order)) for t in (got[1], read[1]))
            assert a.equals(b), (a.schema, b.schema)
            assert b.num_rows > 0 and set(b.column("lead_id").to_pylist()) <= {f"L{n:04d}" for n in range(20)}
    finally:
        spill.close()
        con.close()


@pytest.mark.parametrize("split", [10**9, 100])  # one reader, two
def test_the_readers_cut_the_events_into_the_files_this_process_cuts(
    twins: tuple[LeadService, LeadService], monkeypatch: pytest.MonkeyPatch, split: int
) -> None:
    """On a SQLite file each reader program writes its own part files (`export_adbc.adbc_spill`): every
    part holds the rows, in the order (reader, then batch), that the rows read and cut in this process
    hold, ids at the parts' starts included; an id below the first start is in the first part."""
    from leadscore.bulk import export, export_spill

    store = twins[0].store
    if store.sqlite_file() is None:
        pytest.skip("the reader programs read a SQLite file")
    monkeypatch.setattr(export, "READER_MIN_ROWS", 0)
    monkeypatch.setattr(export, "SPLIT_ROWS", split)
    model = parse_model(MODEL)  # a lifecycle: the events' ids are read too
    at = twins[0].now_us()
    starts = ["L0005", "L0013", "L0020", "L0031"]
    here = export_spill.spill_folder(store, model, at, None)
    export_spill._spill_here(store, model, at, None, starts, False, here)
    # the folder made first (the preparing processes start with it), filled by the readers after
    read = export_spill.spill_events(
        store, model, at, None, starts, into=export_spill.spill_folder(store, model, at, None)
    )
    try:
        assert read.events == here.events
        assert sorted(read.files) == sorted(here.files) == [0, 1, 2, 3]
        assert all(p.parent == read.folder for paths in read.files.values() for p in paths)
        assert {len(paths) for paths in read.files.values()} == {1 if split > 1000 else 2}
        for k in here.files:
            a, b = read.table(k), here.table(k)
            assert a.num_rows > 0 and a.equals(b)
        ids = set(read.table(0).column("lead_id").to_pylist())
        assert "L0004" in ids and "L0005" in ids and "L0013" not in ids
        assert "L0013" in set(read.table(1).column("lead_id").to_pylist())
    finally:
        read.close()
        here.close()


def test_a_reader_that_fails_is_an_error_of_the_spill(tmp_path: Path) -> None:
    import pyarrow as pa

    from leadscore.bulk.export_adbc import adbc_spill

    schema = pa.schema([("lead_id", pa.string())])
    with pytest.raises(RuntimeError, match="reading the SQLite store failed"):
        sql = "SELECT lead_id FROM events"
        adbc_spill(str(tmp_path / "none.db"), sql, "events", "rowid", schema, [(1, 9)], tmp_path, ["A"])


@pytest.mark.parametrize("value", [{"tier": 3}, [3], 2**53 + 1, -(10**30)])
def test_values_no_typed_slot_holds_keep_the_pure_path(twins: tuple[LeadService, LeadService], value: object) -> None:
    fast, _ = twins
    evaluator = Evaluator(parse_model(RULES_MODEL))
    assert rescore_store(fast.store, evaluator, fast.now_us(), "test") is not None
    # the store's own ingest, below the service's check of numbers: as stored before that check existed
    odd = [Event("L0001", "trial", START + timedelta(days=50), {"plan": value}, "odd")]
    ingest_events(fast.store, fast.evaluator, odd, fast.now_us)
    assert rescore_store(fast.store, evaluator, fast.now_us(), "test") is None  # nested, or a double loses it


def test_stored_ids_and_types_are_read_as_stored(twins: tuple[LeadService, LeadService]) -> None:
    """Text the ingest would have stripped, stored by an older writer: the pure path reads it as stored
    (a type " demo_request" is no demo request, a lead " L0002" is no lead), and so must the query."""
    from leadscore.store.tables import events

    fast, pure = twins
    at = fast.now_us()
    for service in twins:
        with service.store.write() as conn:
            rows = [
                {
                    "event_key": f"odd{i}",
                    "lead_id": lead,
                    "received_lead_id": lead,
                    "type": typ,
                    "ts": at - 86_400_000_000,
                    "properties": {},
                    "ingested_at": at,
                }
                for i, (lead, typ) in enumerate(
                    [(f"L{n:04d}", " demo_request") for n in range(45)] + [(" L0002", "demo_request")]
                )
            ]
            conn.execute(events.insert(), rows)
    evaluator = Evaluator(parse_model(RULES_MODEL))
    done = rescore_store(fast.store, evaluator, at, f"model:{evaluator.version}", adbc_min_rows=10**9)
    reference = apply(pure.store, evaluator, pure.now_us, bulk=False)
    assert isinstance(done, BatchRescored) and done.fallback_leads == 0
    assert done.changed == reference.changed
    _same_state(fast.store, pure.store)


def test_a_part_prepared_on_one_thread_equals_the_part_prepared_on_every_core(
    twins: tuple[LeadService, LeadService],
) -> None:
    """The process preparing a rescore's parts ahead runs DuckDB on one thread (`lifecycle_ahead`):
    the same rows for the write and the same leads for the history pass."""
    from leadscore.bulk.lifecycle_ahead import PREPARE_THREADS
    from leadscore.bulk.lifecycle_prepare import prepare_part
    from leadscore.bulk.lifecycle_split import PY
    from leadscore.bulk.write import ROWS_TABLE

    assert PREPARE_THREADS == 1
    store = twins[0].store
    evaluator = Evaluator(parse_model(MODEL))
    at, ids = twins[0].now_us(), "SELECT id FROM leads WHERE id < 'L0030'"
    got = []
    for threads in (PREPARE_THREADS, None):
        prepared = prepare_part(store, evaluator, at, ids, None, threads)
        assert prepared is not None and prepared.leads == 30
        try:
            if threads is not None:
                assert prepared.con.execute("SELECT current_setting('threads')").fetchall()[0][0] == threads
            got.append([prepared.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in (ROWS_TABLE, PY)])
        finally:
            prepared.con.close()
    assert got[0] == got[1] and got[0][0]


def test_properties_of_types_the_model_never_filters_are_not_exported(twins: tuple[LeadService, LeadService]) -> None:
    """`export.property_types`: only the events of types some `where:` (or aggregate, or `stage_set`)
    reads carry their properties out of the store; a value no typed slot holds in another type's
    properties (here `plan` on a `demo_request`, read only on `trial`) no longer sends the apply to the
    pure scorer, and the results are still the pure path's."""
    from leadscore.bulk.export import event_query, key_types, property_types
    from leadscore.sql import literals as q

    fast, pure = twins
    evaluator = Evaluator(parse_model(RULES_MODEL))
    assert property_types(evaluator.model) == ("page_view", "trial")
    sql = event_query(fast.store, evaluator.model, fast.now_us(), None).sql
    if fast.store.name == "postgres":  # each key out of the events of its own types (`key_types`)
        for key, types in key_types(evaluator.model).items():
            assert f"CASE WHEN type IN {q.text_list(types)} THEN CAST(properties -> {q.text(key)} AS TEXT) END" in sql
    else:
        assert "CASE WHEN type IN ('page_view', 'trial') THEN " in sql
    odd = [Event("L0001", "demo_request", START + timedelta(days=50), {"plan": {"tier": 3}}, "odd")]
    for service in (fast, pure):
        ingest_events(service.store, service.evaluator, odd, service.now_us)
    version = f"model:{evaluator.version}"
    done = rescore_store(fast.store, evaluator, fast.now_us(), version)
    assert isinstance(done, BatchRescored) and done.fallback_leads == 0
    apply(pure.store, evaluator, pure.now_us, bulk=False)
    _same_state(fast.store, pure.store)
