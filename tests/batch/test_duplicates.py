"""The duplicate check: repeated ids within a lead are found exactly, ids shared by leads are not duplicates."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.batch import run_batch
from leadscore.batch.duckdb.duplicates import find_duplicates
from leadscore.batch.duckdb.run import connect
from leadscore.batch.duckdb.sources import prepare
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import parse_timestamp
from leadscore.engine import score_many
from leadscore.io import read_events
from leadscore.model import parse_model
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table
from tests.support.duckdb_connections import fresh_connection
from tests.support.profiles import examples

AT = parse_timestamp("2026-06-01T00:00:00Z")
MODEL = parse_model("format: 1\nname: t\nrules:\n  - {id: v, on: view, where: {page: pricing}, points: 1}\n")


def _events(n_leads: int, repeat: dict[str, list[str]] | None = None) -> list[Event]:
    """Each lead views pages with ids shared across leads (`e0`, `e1`, ...); `repeat` adds later copies."""
    events = []
    for i in range(n_leads):
        for k in range(3):
            page = "pricing" if k != 1 else "home"
            events.append(Event.of(f"l{i}", "view", AT - timedelta(hours=k + 1), id=f"e{k}", page=page))
    for lead, ids in (repeat or {}).items():
        for event_id in ids:
            events.append(Event.of(lead, "view", AT - timedelta(minutes=1), id=event_id, page="pricing"))
    return events


def _run(events: list[Event], n_leads: int) -> tuple[bool, list[dict]]:
    leads = [Lead(f"l{i}") for i in range(n_leads)]
    run = run_batch(MODEL, leads_table(leads), events_table(events), AT)
    expected = [r.to_dict() for r in score_many(MODEL, leads, events, AT)]
    got = run.to_dicts()
    assert not differences(expected, got), differences(expected, got)
    return run.stats.deduplicated, got


def test_ids_shared_by_different_leads_are_not_duplicates() -> None:
    deduplicated, got = _run(_events(300), 300)
    assert not deduplicated
    assert {r["score"] for r in got} == {2.0}


def test_repeated_ids_within_a_lead_count_once_in_input_order() -> None:
    # l7's copy of e1 (a home page view) is seen second: the first copy wins, the later pricing copy is dropped
    events = _events(300, {"l7": ["e1", "e0"], "l8": ["e9"]})
    deduplicated, got = _run(events, 300)
    scores = {r["lead_id"]: r["score"] for r in got}
    assert deduplicated
    assert scores["l7"] == 2.0 and scores["l8"] == 3.0 and scores["l0"] == 2.0


def test_check_lists_the_repeated_pairs_and_the_copy_to_keep() -> None:
    events = _events(50, {"l3": ["e2", "e2"]})
    events.append(Event.of("l4", "view", AT, page="pricing"))  # no id: identified by content
    con = connect()
    prepare(con, leads_table([Lead("l0")]), events_table(events))
    check = find_duplicates(con)
    rows = con.execute(f"SELECT lead_id, id, keep FROM {check.table}").fetchall()
    first = next(i for i, e in enumerate(events) if e.lead_id == "l3" and e.id == "e2")
    assert rows == [("l3", "e2", first)]
    assert check.repeated_ids == 1 and check.without_id == 1 and check.needed
    dropped = sorted(r[0] for r in con.execute(f"SELECT _ls_ord FROM {check.table}_drop").fetchall())
    assert dropped == [i for i, e in enumerate(events) if e.lead_id == "l3" and e.id == "e2" and i != first]


def test_events_without_id_beside_repeated_ids_stream_through_the_query() -> None:
    """Repeated ids and events without id (a copy of one among them): equal to the pure scorer, and the
    query drops the id'd copies by input order with no subquery correlated on every event, and reads the
    events once per branch instead of through one CTE named twice (which DuckDB materialises whole: with
    both, 2.6 GB at 10M events against 0.4 GB)."""
    events = _events(60, {"l3": ["e2", "e0"]})
    events += [Event.of("l4", "view", AT, page="pricing")] * 2 + [Event.of("l5", "view", AT, page="home")]
    leads = [Lead(f"l{i}") for i in range(60)]
    run = run_batch(MODEL, leads_table(leads), events_table(events), AT)
    expected = [r.to_dict() for r in score_many(MODEL, leads, events, AT)]
    assert not differences(expected, run.to_dicts())
    assert run.stats.deduplicated and run.plan is not None
    sql = run.plan.sql
    # the copies without id are listed with the repeated ids: the query drops both by input order, with
    # neither a window nor a subquery correlated on every event
    assert "NOT EXISTS" not in sql and "row_number()" not in sql and f"{run.dups_table}_kept(" in sql


def test_copies_without_id_are_listed_by_input_order() -> None:
    """Events without id are identified by (lead, content): every copy but the first in input order is
    listed to drop, as the query's window over them would keep them; another lead's or another
    content's event is no copy."""
    events = _events(20)
    same = Event.of("l4", "view", AT, page="pricing")
    events += [same, Event.of("l5", "view", AT, page="pricing"), Event.of("l4", "view", AT, page="home"), same, same]
    con = connect()
    prepare(con, leads_table([Lead("l0")]), events_table(events))
    check = find_duplicates(con, content=["page"])
    assert check.contents_listed and check.without_id == 5 and check.needed
    dropped = sorted(r[0] for r in con.execute(f"SELECT _ls_ord FROM {check.table}_drop").fetchall())
    copies = [i for i, e in enumerate(events) if e is same]
    assert dropped == copies[1:]


# -- edges: none, all, same or different content, ids shared across leads, through Parquet files ----------


def _parquet_run(tmp: Path, parts: list[list[Event]], leads: list[Lead], dedupe: str = "auto") -> list[dict]:
    """The events written as one Parquet file per part (file order is input order), scored by the batch
    engine and compared lead by lead with the pure scorer over the events as the reader reads the files
    (`leadscore score`: ids stripped, files in name order)."""
    import pyarrow.parquet as pq

    (tmp / "events").mkdir()
    for i, part in enumerate(parts):
        pq.write_table(events_table(part), tmp / "events" / f"part-{i}.parquet")
    pq.write_table(leads_table(leads), tmp / "leads.parquet")
    events = read_events(tmp / "events")
    run = run_batch(MODEL, str(tmp / "leads.parquet"), str(tmp / "events"), AT, dedupe=dedupe)
    expected = [r.to_dict() for r in score_many(MODEL, leads, events, AT)]
    got = run.to_dicts()
    assert not differences(expected, got), differences(expected, got)
    return got


def test_no_repeated_id_at_all_leaves_nothing_to_drop(tmp_path: Path) -> None:
    got = _parquet_run(tmp_path, [_events(40)[:60], _events(40)[60:]], [Lead(f"l{i}") for i in range(40)])
    assert {r["score"] for r in got} == {2.0}


def test_every_event_delivered_twice_counts_once(tmp_path: Path) -> None:
    events = _events(30)
    got = _parquet_run(tmp_path, [events, events], [Lead(f"l{i}") for i in range(30)])
    assert {r["score"] for r in got} == {2.0}
    con = connect()
    prepare(con, str(tmp_path / "leads.parquet"), str(tmp_path / "events"))
    check = find_duplicates(con)
    assert check.repeated_ids == len(events) and check.without_id == 0
    dropped = con.execute(f"SELECT min(_ls_ord), count(*) FROM {check.table}_drop").fetchall()[0]
    assert dropped == (1 << 40, len(events))  # every row of the second file, none of the first
    # one run, seen from the copies' count and ends: a range, whatever `RUN_ROWS`
    macro = con.execute(f"SELECT macro_definition FROM duckdb_functions() WHERE function_name = '{check.table}_kept'")
    assert "BETWEEN" in str(macro.fetchall())


@pytest.mark.parametrize(("runs", "rows"), [(0, 100), (17, 100), (18, 100), (18, 17)])
def test_the_copies_to_drop_are_excluded_by_ranges_or_the_anti_join(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runs: int, rows: int
) -> None:
    """Copies in runs of consecutive rows (here: every other row of a later file, so as many runs as
    copies) are excluded by ranges up to `dropped_copies.RUNS` of them, by the anti-join past it or past
    `RUN_ROWS` copies: the same events kept either way, and the same scores as the pure scorer's."""
    from leadscore.batch.duckdb import dropped_copies

    events = _events(12)
    again = [e for k, e in enumerate(events) if k % 2 == 0]  # 18 copies, each its own run
    new = AT - timedelta(minutes=1)
    fresh = [Event.of(f"l{k % 12}", "view", new, id=f"n{k}", page="pricing") for k in range(18)]
    later = [x for pair in zip(again, fresh, strict=True) for x in pair]
    monkeypatch.setattr(dropped_copies, "RUNS", runs)
    monkeypatch.setattr(dropped_copies, "RUN_ROWS", rows)
    got = _parquet_run(tmp_path, [events, later], [Lead(f"l{i}") for i in range(12)])
    assert sum(r["score"] for r in got) == 12 * 2 + 18
    con = connect()
    prepare(con, str(tmp_path / "leads.parquet"), str(tmp_path / "events"))
    check = find_duplicates(con)
    kept = con.execute(f"SELECT _ls_ord FROM events WHERE {check.table}_kept(_ls_ord) ORDER BY 1").fetchall()
    assert [r[0] for r in kept] == list(range(len(events))) + [(1 << 40) + 2 * k + 1 for k in range(18)]
    macro = con.execute(f"SELECT macro_definition FROM duckdb_functions() WHERE function_name = '{check.table}_kept'")
    assert ("_drop" in str(macro.fetchall())) == (runs < 18 or rows < 18)  # the anti-join reads the drop table


@pytest.mark.parametrize("picked", [True, False], ids=["row-groups", "scan"])
def test_copies_without_id_across_files_are_compared_by_their_whole_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, picked: bool
) -> None:
    """Events without id that share their lead, type and time are read again whole, by their input
    order from the row groups that hold them (or, past `PICK_ROWS` of them, by a scan): a copy in a
    later file is dropped, one that differs in any column counts, and an event another lead or another
    time has counts; equal to the pure scorer over the files as the reader reads them."""
    from leadscore.batch.duckdb import duplicates

    monkeypatch.setattr(duplicates, "PICK_ROWS", 1024 if picked else 0)
    reads: list[str | None] = []
    pick = duplicates._picked
    monkeypatch.setattr(duplicates, "_picked", lambda *a: reads.append(pick(*a)) or reads[-1])
    first = _events(8)
    when = AT - timedelta(minutes=30)
    copy = Event.of("l1", "view", when, page="pricing")
    first += [copy, Event.of("l2", "view", when, page="pricing"), Event.of("l1", "view", when, page="home")]
    later = [
        copy,  # the same content: dropped
        Event.of("l1", "view", when, page="pricing", ref="x"),  # one more column: another event
        Event.of("l2", "view", when - timedelta(seconds=1), page="pricing"),  # another time
        Event.of("l3", "view", AT - timedelta(hours=1), id="e0", page="pricing"),  # an id repeated
    ]
    got = _parquet_run(tmp_path, [first, later], [Lead(f"l{i}") for i in range(8)])
    scores = {r["lead_id"]: r["score"] for r in got}
    assert scores["l1"] == 2.0 + 1 + 1 and scores["l2"] == 2.0 + 1 + 1 and scores["l3"] == 2.0
    assert len(reads) == picked and all("file_row_number IN" in str(r) for r in reads)


def test_repeats_with_same_and_with_different_content_keep_the_first_copy(tmp_path: Path) -> None:
    first = _events(10)
    same = [e for e in first if e.lead_id == "l2"]  # exact copies: nothing changes
    other = [Event.of("l3", "view", AT - timedelta(hours=2), id="e1", page="pricing")]  # e1 was a home view
    late = [Event.of("l4", "view", AT - timedelta(minutes=5), id="new", page="pricing")]  # a new id: counts
    got = _parquet_run(tmp_path, [first, same + other + late], [Lead(f"l{i}") for i in range(10)])
    scores = {r["lead_id"]: r["score"] for r in got}
    assert scores["l2"] == 2.0 and scores["l3"] == 2.0 and scores["l4"] == 3.0


def test_an_id_repeated_in_one_file_and_across_leads(tmp_path: Path) -> None:
    # "dup" twice for l0 in the same file (second row dropped), once for l1 (another lead: it counts)
    rows = [
        Event.of("l0", "view", AT - timedelta(hours=1), id="dup", page="home"),
        Event.of("l1", "view", AT - timedelta(hours=1), id="dup", page="pricing"),
        Event.of("l0", "view", AT - timedelta(hours=1), id="dup", page="pricing"),
    ]
    got = _parquet_run(tmp_path, [rows], [Lead("l0"), Lead("l1")])
    assert {r["lead_id"]: r["score"] for r in got} == {"l0": 0.0, "l1": 1.0}


def test_ids_to_strip_are_the_same_id(tmp_path: Path) -> None:
    """An id with spaces or a tab around it is the same id (the views strip when a file needs it)."""
    rows = [
        Event.of("l0", "view", AT - timedelta(hours=1), id="e1", page="pricing"),
        Event.of("l0", "view", AT - timedelta(hours=2), id="e1\t", page="pricing"),
        Event.of(" l0", "view", AT - timedelta(hours=3), id=" e1", page="pricing"),
    ]
    got = _parquet_run(tmp_path, [rows], [Lead("l0")])
    assert [r["score"] for r in got] == [1.0]


def test_an_id_shared_by_two_leads_among_unique_ids_is_ruled_out_exactly(tmp_path: Path) -> None:
    """The hashes are of the ids alone: an id two leads share is a candidate (below `SHARED`, no
    second hashing of (lead, id)) that the exact check rules out, next to a real repeat it keeps."""
    from leadscore.batch.duckdb import duplicates

    leads = [Lead(f"l{i}") for i in range(200)]
    rows = [Event.of(f"l{i}", "view", AT - timedelta(hours=1), id=f"u{i}", page="pricing") for i in range(200)]
    rows.append(Event.of("l1", "view", AT - timedelta(hours=2), id="u0", page="pricing"))  # l0's id: counts
    rows.append(Event.of("l2", "view", AT - timedelta(hours=3), id="u2", page="pricing"))  # a repeat: dropped
    got = _parquet_run(tmp_path, [rows], leads)
    scores = {r["lead_id"]: r["score"] for r in got}
    assert scores["l0"] == 1.0 and scores["l1"] == 2.0 and scores["l2"] == 1.0
    con = connect()
    prepare(con, str(tmp_path / "leads.parquet"), str(tmp_path / "events"))
    found = duplicates._sorted_repeats(con, duplicates.HASH)
    assert found is not None and len(found[0]) == 2 and found[2] <= duplicates.SHARED * found[1]
    check = find_duplicates(con)
    assert con.execute(f"SELECT lead_id, id FROM {check.table}").fetchall() == [("l2", "u2")]
    assert check.repeated_ids == 1


def _passes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes the check's sorted passes are of, in order, from now on."""
    from leadscore.batch.duckdb import duplicates

    passes: list[str] = []
    sorted_repeats = duplicates._sorted_repeats

    def spy(con: object, hashed: str) -> object:
        passes.append(hashed)
        return sorted_repeats(con, hashed)  # type: ignore[arg-type]

    monkeypatch.setattr(duplicates, "_sorted_repeats", spy)
    return passes


def test_ids_shared_by_leads_as_a_rule_are_hashed_with_their_lead_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A counter per lead (`e0`, `e1`, ... in every lead): the first rows show it, so the sorted pass
    hashes (lead, id) at once; when the first rows do not (a sample of 1 row), a second pass does."""
    from leadscore.batch.duckdb import duplicates

    events = _events(100, {"l5": ["e0"]})
    _parquet_run(tmp_path, [events], [Lead(f"l{i}") for i in range(100)])
    con = connect()
    prepare(con, str(tmp_path / "leads.parquet"), str(tmp_path / "events"))
    monkeypatch.setattr(duplicates, "ORDERED", False)  # the sorted hashes, not the ordered pass
    passes = _passes(monkeypatch)
    for sample, expected in (
        (duplicates.SAMPLE_ROWS, [duplicates.PAIR_HASH]),
        (1, [duplicates.HASH, duplicates.PAIR_HASH]),
    ):
        monkeypatch.setattr(duplicates, "SAMPLE_ROWS", sample)
        passes.clear()
        check = find_duplicates(con)
        assert con.execute(f"SELECT lead_id, id FROM {check.table}").fetchall() == [("l5", "e0")]
        assert [p.split(" ELSE ")[-1].removesuffix(" END") for p in passes] == expected


_ids = st.sampled_from(["a", "b", "c", "d", None])


@pytest.mark.slow
@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(["l0", "l1", "l2"]), _ids, st.sampled_from(["pricing", "home"]), st.integers(0, 5)
            ),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=3,
    ),
    dedupe=st.sampled_from(["auto", "always"]),
    shared=st.sampled_from([0.0, 1.0]),
    ordered=st.sampled_from([(True, 1), (True, 3), (True, 1 << 20), (False, 1 << 20)]),
)
def test_repeated_ids_equal_the_pure_scorer(
    parts: list[list[tuple[str, str | None, str, int]]], dedupe: str, shared: float, ordered: tuple[bool, int]
) -> None:
    """Any mix of repeated ids (within a file, across files, across leads, no id), through Parquet,
    found by the ordered pass (in batches of 1, 3 or all ids) or by the sorted hashes, with the
    candidates hashed by (lead, id) (`shared` 0) or by the id alone (1: always)."""
    import tempfile

    from leadscore.batch.duckdb import duplicates, id_order

    events = [
        [Event.of(lead, "view", AT - timedelta(hours=h), id=i, page=page) for lead, i, page, h in part]
        for part in parts
    ]
    before = duplicates.SHARED, duplicates.ORDERED, id_order._BATCH
    duplicates.SHARED = shared
    duplicates.ORDERED, id_order._BATCH = ordered
    try:
        with tempfile.TemporaryDirectory() as tmp:
            _parquet_run(Path(tmp), events, [Lead("l0"), Lead("l1"), Lead("l2")], dedupe)
    finally:
        duplicates.SHARED, duplicates.ORDERED, id_order._BATCH = before


# -- the sorted hashes, batch by batch -------------------------------------------------------------------


def test_repeats_are_found_across_the_batches_of_the_sorted_hashes() -> None:
    import numpy as np

    from leadscore.batch.duckdb.duplicates import _repeated

    batches = [[1, 2], [2, 3, 3], [], [3, 4], [5], [5]]
    got = _repeated(np.array(b, np.uint64) for b in batches)
    assert got.tolist() == [2, 3, 5]
    assert _repeated(iter([])).tolist() == []


@settings(max_examples=examples(50), deadline=None)
@given(values=st.lists(st.integers(0, 30), max_size=60), cuts=st.lists(st.integers(0, 60), max_size=6))
def test_repeats_of_any_split_are_those_of_the_whole(values: list[int], cuts: list[int]) -> None:
    import numpy as np

    from leadscore.batch.duckdb.duplicates import _repeated

    ordered = sorted(values)
    bounds = [0, *sorted(min(c, len(ordered)) for c in cuts), len(ordered)]
    batches = [np.array(ordered[a:b], np.uint64) for a, b in itertools.pairwise(bounds)]
    assert _repeated(batches).tolist() == sorted({v for v in values if values.count(v) > 1})


def test_the_check_reads_the_hashes_in_many_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 7 hashes: repeats that fall on a batch's edge are found as within one batch."""
    from leadscore.batch.duckdb import duplicates

    monkeypatch.setattr(duplicates, "_BATCH", 7)
    monkeypatch.setattr(duplicates, "ORDERED", False)
    events = _events(30)
    _parquet_run(tmp_path, [events, events[::3]], [Lead(f"l{i}") for i in range(30)])
    con = connect()
    prepare(con, str(tmp_path / "leads.parquet"), str(tmp_path / "events"))
    check = find_duplicates(con)
    assert check.repeated_ids == len(events[::3]) and check.without_id == 0


# -- ids in ascending order: all distinct without a sort --------------------------------------------------


def _ascending_run(tmp: Path, ids: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict], list[str]]:
    """One event per id for lead l0, in this order; the sorted passes the check made."""

    passes = _passes(monkeypatch)
    rows = [Event.of("l0", "view", AT - timedelta(hours=1 + k), id=i, page="pricing") for k, i in enumerate(ids)]
    return _parquet_run(tmp, [rows], [Lead("l0"), Lead("l1"), Lead("l2")]), passes


def test_ascending_ids_need_no_sort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got, passes = _ascending_run(tmp_path, [f"e{k:03d}" for k in range(30)], monkeypatch)
    assert passes == [] and sum(r["score"] for r in got) == 30.0


def test_a_repeat_ends_the_ascending_stretch_and_the_tail_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """e010 twice in a row for l0, across the edge of two batches of 7 ids (the 7th and 8th): the
    second copy starts the tail, whose ids the exact check looks for; no sorted pass."""
    from leadscore.batch.duckdb import id_order

    monkeypatch.setattr(id_order, "_BATCH", 7)
    ids = [f"e{k:03d}" for k in range(4, 11)] + ["e010"] + [f"e{k:03d}" for k in range(11, 20)]
    ids[0] = "e003"
    assert ids[6:8] == ["e010", "e010"]  # the repeat: the last of the first batch, the first of the second
    got, passes = _ascending_run(tmp_path, ids, monkeypatch)
    assert passes == [] and sum(r["score"] for r in got) == len(ids) - 1


def _stretch_key(value: str) -> tuple[int, bytes]:
    raw = value.encode()
    return len(raw), raw


def _not_above(ids: list[str]) -> list[str]:
    """The ids no higher than some id before them (by definition, one at a time): the tail."""
    high: tuple[int, bytes] | None = None
    rest = []
    for value in ids:
        if high is None or _stretch_key(value) > high:
            high = _stretch_key(value)
        else:
            rest.append(value)
    return rest


@settings(max_examples=examples(80), deadline=None)
@given(
    ids=st.lists(st.sampled_from(["a", "b", "bb", "c", "é", "z", "ab", "a\x00", None]), max_size=14),
    batch=st.integers(1, 5),
)
def test_the_tail_holds_every_id_no_higher_than_one_before_it(ids: list[str | None], batch: int) -> None:
    """The ids above every id before them (length in bytes, then bytes) ascend strictly, so they repeat
    nothing; the tail is the set of the others (NULLs skipped), in batches of any size."""
    import pyarrow as pa

    from leadscore.batch.duckdb import id_order

    con = fresh_connection()
    con.register("events", pa.table({"id": pa.array(ids, pa.string())}))
    present = [i for i in ids if i is not None]
    rest = _not_above(present)
    before = id_order._BATCH
    id_order._BATCH = batch
    try:
        got = id_order.ordered_ids(con, len(ids))
        limited = id_order.ordered_ids(con, len(rest) - 1) if rest else None
    finally:
        id_order._BATCH = before
    assert got is not None and got.with_id == len(present)
    assert sorted(got.tail.to_pylist()) == sorted(set(rest))
    assert limited is None  # past the limit: the pass gives up


@settings(max_examples=examples(300), deadline=None)
@given(
    runs=st.lists(
        st.tuples(st.integers(0, 60), st.integers(1, 9)),
        min_size=1,
        max_size=12,
    ),
    batch=st.integers(1, 12),
)
def test_mostly_ascending_ids_keep_their_repeats_in_the_tail(runs: list[tuple[int, int]], batch: int) -> None:
    """Ascending runs of counters (`e5`..`e9`, `e10`, ...) that restart lower: the ids out of place go
    to the tail, whatever the batches, and every second copy of an id is there."""
    import pyarrow as pa

    from leadscore.batch.duckdb import id_order

    ids = [f"e{k}" for start, size in runs for k in range(start, start + size)]
    con = fresh_connection()
    con.register("events", pa.table({"id": pa.array(ids, pa.string())}))
    rest = _not_above(ids)
    before = id_order._BATCH
    id_order._BATCH = batch
    try:
        got = id_order.ordered_ids(con, len(ids))
    finally:
        id_order._BATCH = before
    assert got is not None
    assert sorted(got.tail.to_pylist()) == sorted(set(rest))
    assert {i for i in ids if ids.count(i) > 1} <= set(rest)


@settings(max_examples=examples(200), deadline=None)
@given(value=st.text(max_size=8) | st.text(alphabet=st.characters(max_codepoint=300), min_size=250, max_size=260))
def test_the_flagged_ids_hold_every_id_the_reader_check_holds_for(value: str) -> None:
    """`id_order.flagged` (bytes, in NumPy) stands for the SQL id check (`file_checks.row_check_sql`)
    in the ordered pass: it must flag at least every id that check flags (a flag costs a full check)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from leadscore.batch.duckdb import id_order
    from leadscore.batch.duckdb.file_checks import row_check_sql

    con = fresh_connection()
    with __import__("tempfile").TemporaryDirectory() as tmp:
        path = f"{tmp}/e.parquet"
        table = pa.table({"lead_id": ["l0"], "type": ["view"], "timestamp": pa.array([AT]), "id": [value]})
        pq.write_table(table, path)
        checks = row_check_sql(con, [path])
        assert checks is not None and checks[2] is not None
        row = con.execute(f"SELECT {checks[2]} FROM (SELECT nullif(id, '') AS id FROM read_parquet('{path}'))")
        sql_flag = bool(row.fetchall()[0][0])
    column = pa.array([value], pa.string())
    offsets, data = id_order._buffers(column)
    if value:
        assert id_order.flagged(offsets, data) or not sql_flag


def test_ids_in_another_order_leave_the_ordered_pass_to_the_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids in no order (a descent at every other row) fill the tail past its limit: the sorted hashes
    decide, with the same result."""
    from leadscore.batch.duckdb import duplicates

    monkeypatch.setattr(duplicates, "TAIL_ROWS", 3)
    ids = [f"e{(k * 7919) % 40:03d}" for k in range(40)] + ["e005"]
    got, passes = _ascending_run(tmp_path, ids, monkeypatch)
    assert passes and sum(r["score"] for r in got) == 40


def test_first_rows_without_ids_prove_nothing_about_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first rows hold no id: the later repeat is still found."""
    rows = [Event.of("l0", "view", AT - timedelta(hours=k + 1), page="home") for k in range(3)]
    rows += [Event.of("l0", "view", AT - timedelta(minutes=k + 1), id="x", page="pricing") for k in range(2)]
    got = _parquet_run(tmp_path, [rows], [Lead("l0")])
    assert [r["score"] for r in got] == [1.0]


def test_events_delivered_again_in_a_later_file_are_the_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """File 2 repeats ids of file 1, some with other content (the first copy wins), next to a new id;
    ids counted as `ev-9` before `ev-10` (length first): the ordered pass finds the repeats in the
    tail, without a sorted pass; in files that continue the order, there is no tail at all."""
    from leadscore.batch.duckdb import duplicates

    passes = _passes(monkeypatch)
    first = [Event.of("l0", "view", AT - timedelta(hours=k + 1), id=f"ev-{k}", page="home") for k in range(20)]
    again = [Event.of("l0", "view", AT - timedelta(hours=k + 1), id=f"ev-{k}", page="pricing") for k in (3, 12)]
    again.append(Event.of("l0", "view", AT - timedelta(minutes=1), id="ev-2x", page="pricing"))
    got = _parquet_run(tmp_path, [first, again], [Lead("l0")])
    assert [r["score"] for r in got] == [1.0] and passes == []
    con = connect()
    prepare(con, str(tmp_path / "leads.parquet"), str(tmp_path / "events"))
    check = find_duplicates(con)
    assert sorted(con.execute(f"SELECT id FROM {check.table}").fetchall()) == [("ev-12",), ("ev-3",)]
    ordered = tmp_path / "ordered"
    ordered.mkdir()
    later = [Event.of("l0", "view", AT - timedelta(minutes=k + 1), id=f"ev-{k}", page="pricing") for k in range(20, 25)]
    seen: list[int] = []
    exact = duplicates._exact
    monkeypatch.setattr(duplicates, "_exact", lambda *a: seen.append(1) or exact(*a))
    got = _parquet_run(ordered, [first, later], [Lead("l0")])
    assert [r["score"] for r in got] == [5.0] and passes == [] and seen == []


@pytest.mark.parametrize("count", [1, 2, 3, 7, 64, 1000])
def test_the_search_over_the_runs_finds_every_order_in_them_and_no_other(count: int) -> None:
    """`_within`'s nested CASEs (a binary search over the runs) hold exactly for the orders in a run:
    the ends, the rows between them, and none of the gaps, before the first or after the last."""
    from leadscore.batch.duckdb.dropped_copies import _within

    runs = [(10 * k, 10 * k + k % 4) for k in range(count)]  # ranges of 1 to 4 orders, gaps between
    inside = {o for lo, hi in runs for o in range(lo, hi + 1)}
    con = connect()
    con.execute(f"CREATE TEMP MACRO _t_within(o) AS {_within(runs)}")
    got = con.execute(f"SELECT o FROM range(-3, {10 * count + 5}) AS t(o) WHERE _t_within(o) ORDER BY o").fetchall()
    assert [r[0] for r in got] == sorted(inside)


@pytest.mark.parametrize("time_runs", [64, 0], ids=["times-read", "scan"])
@pytest.mark.parametrize("without_id", [False, True], ids=["ids", "ids-and-none"])
def test_the_events_scored_are_those_up_to_t_less_the_copies_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, time_runs: int, without_id: bool
) -> None:
    """The single pass's count of the events scored (`QueryPlan.scored_events_sql`) is the events up to T
    less the copies dropped up to T (`dropped_copies.dropped_macro`): their times read with their keys, read
    from the row groups of their runs, or (past `TIME_RUNS` runs) counted by a scan of the events; copies
    after T, and copies without id, counted as the query drops them."""
    import pyarrow.parquet as pq

    from leadscore.batch.duckdb import dropped_copies
    from leadscore.sql.query import build_query

    monkeypatch.setattr(dropped_copies, "TIME_RUNS", time_runs)
    leads = [Lead(f"l{i}") for i in range(6)]
    before = [
        Event.of(f"l{k % 6}", "view", AT - timedelta(hours=k + 1), id=f"ev-{k:02d}", page="pricing") for k in range(30)
    ]
    after = [
        Event.of(f"l{k}", "view", AT + timedelta(hours=k + 1), id=f"ev-{30 + k:02d}", page="pricing") for k in range(4)
    ]
    first, again = before + after, before[3:8] + after[:2] + before[20:22]  # 7 copies up to T, 2 after
    if without_id:
        plain = [Event.of(f"l{k}", "view", AT - timedelta(minutes=k + 1), page="pricing") for k in range(3)]
        late = [Event.of("l1", "view", AT + timedelta(minutes=5), page="pricing")]
        first, again = first + plain + late, again + plain[:2] + late  # 2 more copies up to T, 1 after
    (tmp_path / "events").mkdir()
    for i, part in enumerate([first, again]):
        pq.write_table(events_table(part), tmp_path / "events" / f"part-{i}.parquet")
    pq.write_table(leads_table(leads), tmp_path / "leads.parquet")
    run = run_batch(MODEL, str(tmp_path / "leads.parquet"), str(tmp_path / "events"), AT)
    expected = [r.to_dict() for r in score_many(MODEL, leads, read_events(tmp_path / "events"), AT)]
    assert not differences(expected, run.to_dicts())
    scored = 30 + 3 * without_id
    assert run.stats.deduplicated and run.stats.events == scored
    # the spread form of the single pass (its own count), whatever the sample of the layout chose
    plan = build_query(
        MODEL,
        run.schema,
        run.at,
        dedupe=True,
        dups_table=run.dups_table,
        null_ids=run.null_ids,
        event_leads=True,
        lookups=run.lookups,
    )
    assert plan.scored_events_sql and f"{run.dups_table}_dropped(" in plan.scored_events_sql
    assert run.con.execute(run.lookups.inline(plan.scored_events_sql)).fetchall() == [(scored,)]


@given(
    ids=st.lists(st.sampled_from(["a", "bb", "", "é", "ccc", None]), max_size=14),
    start=st.integers(0, 3),
    large=st.booleans(),
    stuffed=st.booleans(),
)
def test_the_ids_kept_by_their_offsets_are_those_a_filter_keeps(
    ids: list[str | None], start: int, large: bool, stuffed: bool
) -> None:
    """`id_order._kept` (NULLs and empty ids left out by gathering the offsets of the others) gives what
    a filter gives, for sliced arrays, large strings, and NULL slots that hold bytes (then it filters)."""
    import numpy as np
    import pyarrow as pa

    from leadscore.batch.duckdb.arrays import numpy_bools
    from leadscore.batch.duckdb.id_order import _kept

    typ = pa.large_string() if large else pa.string()
    column = pa.array(ids, typ)
    if stuffed and column.null_count:  # a writer that leaves bytes in NULL slots
        text = [v if v is not None else "zz" for v in ids]
        column = pa.Array.from_buffers(typ, len(ids), [column.buffers()[0], *pa.array(text, typ).buffers()[1:]])
    column = column.slice(min(start, len(column)))
    for keep in (numpy_bools(column.is_valid()), np.array([bool(v) for v in column.to_pylist()], bool)):
        assert _kept(column, keep).to_pylist() == column.filter(pa.array(keep)).to_pylist()
