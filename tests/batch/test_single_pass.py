"""The scoring query's single pass over the events: the input files' check rides on it, events after T
and dropped copies are checked too, and lead ids seen only after T still get a result."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.batch import run_batch
from leadscore.batch.duckdb.run import BatchRun
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import parse_timestamp
from leadscore.engine import score_many
from leadscore.io import read_events
from leadscore.io.errors import DataFileError
from leadscore.model import parse_model
from leadscore.sql.query import build_query
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table
from tests.support.duckdb_connections import fresh_connection
from tests.support.profiles import examples

AT = parse_timestamp("2026-06-01T00:00:00Z")
H = timedelta(hours=1)
MODEL = parse_model(
    "format: 1\nname: t\nrules:\n  - {id: v, on: view, where: {page: {contains: pricing}}, points: 1}\n"
    "  - {id: r, on: view, where: {page: {matches: '(?i)^/docs\\b'}}, points: 2, within: 7d}\n"
)


def _write(tmp: Path, parts: list[list[Event]], leads: list[Lead]) -> tuple[Path, Path]:
    import pyarrow.parquet as pq

    (tmp / "events").mkdir()
    for i, part in enumerate(parts):
        pq.write_table(events_table(part), tmp / "events" / f"part-{i}.parquet")
    pq.write_table(leads_table(leads), tmp / "leads.parquet")
    return tmp / "leads.parquet", tmp / "events"


def _raw(tmp: Path, name: str, **columns: list[object]) -> None:
    """A Parquet file of events with columns as given (values the reader refuses included)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(next(iter(columns.values())))
    base: dict[str, object] = {
        "lead_id": ["l0"] * n,
        "type": ["view"] * n,
        "timestamp": pa.array([AT - H] * n, pa.timestamp("us", tz="UTC")),
        "id": [f"x{i}" for i in range(n)],
    }
    pq.write_table(pa.table({**base, **columns}), tmp / "events" / name)


def test_parquet_inputs_are_checked_by_the_scoring_pass_and_scored_like_the_pure_scorer(tmp_path: Path) -> None:
    events = [
        Event.of("l0", "view", AT - H, id="e1", page="/pricing"),
        Event.of("l0", "view", AT - 2 * H, id="e2", page="/Docs/start"),
        Event.of("late", "view", AT + H, id="e3", page="/pricing"),  # a lead id seen only after T
    ]
    leads_path, events_path = _write(tmp_path, [events], [Lead("l0"), Lead("l1")])
    for dedupe in ("never", "auto"):
        run = run_batch(MODEL, str(leads_path), str(events_path), AT, dedupe=dedupe)
        assert run.plan is not None and run.plan.row_check  # no scan of the files before the query
        expected = [r.to_dict() for r in score_many(MODEL, [Lead("l0"), Lead("l1"), Lead("late")], events, AT)]
        assert not differences(expected, run.to_dicts())
        assert {r["lead_id"]: r["score"] for r in run.to_dicts()} == {"l0": 3.0, "l1": 0.0, "late": 0.0}
        assert run.stats.events == 2  # the one after T is not scored
        # spread events are counted apart from the pass (`QueryPlan.scored_events_sql`), the same number
        spread = build_query(MODEL, run.schema, run.at, dedupe=False, event_leads=True, lookups=run.lookups)
        assert spread.row_check and "count_if(_ls_in)" not in spread.sql and spread.scored_events_sql
        assert run.con.execute(run.lookups.inline(spread.scored_events_sql)).fetchall() == [(2,)]


@pytest.mark.parametrize("when", [-H, H], ids=["before-T", "after-T"])
def test_a_bad_row_is_refused_named_before_or_after_t(tmp_path: Path, when: timedelta) -> None:
    import pyarrow as pa

    leads_path, events_path = _write(tmp_path, [[Event.of("l0", "view", AT - H, id="e1", page="/pricing")]], [])
    times = pa.array([AT - H, AT + when], pa.timestamp("us", tz="UTC"))
    _raw(tmp_path, "part-1.parquet", timestamp=times, page=["/ok", "a\x00b"])
    out = tmp_path / "out.jsonl"
    with pytest.raises(DataFileError, match=r"part-1\.parquet:row 2:page:"):
        run_batch(MODEL, str(leads_path), str(events_path), AT, out=out, dedupe="never")
    assert not out.exists()


@pytest.mark.parametrize(("lead", "when"), [("  ", -H), ("L" * 256, H), ("a\x00", H)], ids=["blank", "long", "nul"])
def test_a_bad_lead_id_is_refused_named(tmp_path: Path, lead: str, when: timedelta) -> None:
    import pyarrow as pa

    leads_path, events_path = _write(tmp_path, [[Event.of("l0", "view", AT - H, id="e1", page="/pricing")]], [])
    times = pa.array([AT - H, AT + when], pa.timestamp("us", tz="UTC"))
    _raw(tmp_path, "part-1.parquet", lead_id=["l0", lead], timestamp=times, page=["/ok", "/ok"])
    with pytest.raises(DataFileError, match=r"part-1\.parquet:row 2:lead_id:"):
        run_batch(MODEL, str(leads_path), str(events_path), AT, dedupe="never")


def test_a_bad_copy_of_a_repeated_event_is_refused_though_it_does_not_count(tmp_path: Path) -> None:
    """The second copy of (l0, e1) is dropped by the duplicate check; its NUL still refuses the input,
    as `leadscore score` refuses it."""
    leads_path, events_path = _write(tmp_path, [[Event.of("l0", "view", AT - H, id="e1", page="/pricing")]], [])
    _raw(tmp_path, "part-1.parquet", id=["e1"], page=["/pri\x00cing"])
    with pytest.raises(DataFileError, match=r"part-1\.parquet:row 1:page:"):
        run_batch(MODEL, str(leads_path), str(events_path), AT, dedupe="auto")
    with pytest.raises(DataFileError):
        read_events(events_path)  # the reader refuses it too


def test_a_type_column_of_numbers_is_checked_before_the_query(tmp_path: Path) -> None:
    leads_path, events_path = _write(tmp_path, [], [Lead("l0")])
    _raw(tmp_path, "part-1.parquet", type=[7, 8], page=["/pricing", "/pricing"])
    with pytest.raises(DataFileError, match=r"part-1\.parquet:row 1:type:"):
        run_batch(MODEL, str(leads_path), str(events_path), AT, dedupe="never")


def test_ids_with_spaces_restart_the_run_with_views_that_strip(tmp_path: Path) -> None:
    events = [
        Event.of("l0", "view", AT - H, id="e1", page="/pricing"),
        Event.of(" l0", "view", AT - 2 * H, id="e1\t", page="/pricing"),
        Event.of("l0\t", "view", AT - 3 * H, id="e2", page="/pricing"),
    ]
    leads_path, events_path = _write(tmp_path, [events], [Lead("l0")])
    run = run_batch(MODEL, str(leads_path), str(events_path), AT)
    assert run.plan is not None and not run.plan.row_check  # checked first, the second time
    expected = [r.to_dict() for r in score_many(MODEL, [Lead("l0")], read_events(events_path), AT)]
    assert not differences(expected, run.to_dicts())
    assert [r["score"] for r in run.to_dicts()] == [2.0]


def test_events_contains_lookup_waits_when_another_rule_tests_the_same_type(tmp_path: Path) -> None:
    """A rule on the type alone (`on: view`, compiled first) has a flag whose text sits inside the later
    `contains` rule's flag;
    the look-up must still wait for the query (no pass over the column before it), and a value that
    needs it (`İ`: Python lowers it to `i` plus a combining dot) is then evaluated for its lead only."""
    model = parse_model(
        "format: 1\nname: t\nrules:\n  - {id: any, on: view, points: 2}\n"
        "  - {id: v, on: view, where: {page: {contains: pricing}}, points: 1}\n"
    )
    events = [
        Event.of("l0", "view", AT - H, id="e1", page="/Pricing"),
        Event.of("l1", "view", AT - H, id="e2", page="/docs"),
    ]
    leads_path, events_path = _write(tmp_path, [events], [Lead("l0"), Lead("l1")])
    run = run_batch(model, str(leads_path), str(events_path), AT, dedupe="never")
    assert run.plan is not None and run.plan.lookup_risk
    assert run.stats.lookup_values == 0  # nothing held İ or Σ: no value was evaluated
    expected = [r.to_dict() for r in score_many(model, [Lead("l0"), Lead("l1")], events, AT)]
    assert not differences(expected, run.to_dicts())

    odd = [*events, Event.of("l1", "view", AT - 2 * H, id="e3", page="/PRİCİNG")]
    _raw(tmp_path, "part-9.parquet", lead_id=["l1"], id=["e3"], page=["/PRİCİNG"])
    run = run_batch(model, str(leads_path), str(events_path), AT, dedupe="never")
    assert run.stats.lookup_values == 1
    expected = [r.to_dict() for r in score_many(model, [Lead("l0"), Lead("l1")], odd, AT)]
    assert not differences(expected, run.to_dicts())


def test_events_contains_lookup_on_a_dictionary_column_is_made_before_the_query(tmp_path: Path) -> None:
    """On a dictionary-encoded Parquet column the `contains` look-up is not deferred: its scan (filtered
    per dictionary entry) runs before the query, which then tests no risk per event; a value that needs
    the pure scorer (`İ`) is evaluated by that scan and scored as the pure scorer scores it."""
    model = parse_model(
        "format: 1\nname: t\nrules:\n  - {id: v, on: view, where: {page: {contains: pricing}}, points: 1}\n"
    )
    pages = ["/pricing", "/docs", "/PRİCİNG", "/Pricing/İ"]
    events = [
        Event.of(f"l{i % 7}", "view", AT - (i + 1) * H, id=f"e{i}", page=pages[i % len(pages)]) for i in range(2000)
    ]
    leads = [Lead(f"l{i}") for i in range(7)]
    leads_path, events_path = _write(tmp_path, [events], leads)
    run = run_batch(model, str(leads_path), str(events_path), AT, dedupe="never")
    assert run.plan is not None and not run.plan.lookup_risk
    assert run.stats.lookup_values == 2  # the two values holding İ, asked once each
    expected = [r.to_dict() for r in score_many(model, leads, events, AT)]
    assert not differences(expected, run.to_dicts())


@pytest.mark.parametrize("dedupe", ["auto", "always"])
@pytest.mark.parametrize("bad_id", ["e\x00", "e" * 256], ids=["nul", "too-long"])
def test_a_bad_event_id_is_refused_named_when_the_ids_are_read(tmp_path: Path, dedupe: str, bad_id: str) -> None:
    """With the duplicate check the ids are checked by its pass (the scoring pass does not read them)."""
    leads_path, events_path = _write(tmp_path, [[Event.of("l0", "view", AT - H, id="e1", page="/pricing")]], [])
    _raw(tmp_path, "part-1.parquet", id=["e2", bad_id], page=["/ok", "/ok"])
    out = tmp_path / "out.parquet"
    with pytest.raises(DataFileError, match=r"part-1\.parquet:row 2:id:"):
        run_batch(MODEL, str(leads_path), str(events_path), AT, out=out, dedupe=dedupe)
    assert not out.exists()


@pytest.mark.parametrize("bad_id", ["e\x00", "e" * 256], ids=["nul", "too-long"])
def test_with_trusted_ids_an_event_id_is_not_read_and_changes_nothing(tmp_path: Path, bad_id: str) -> None:
    """`--dedupe never`: no pass reads the event ids of a model without lifecycle and no result carries
    one, so they are not checked (`file_checks.row_check_sql`): the scores are those of the same
    events with a good id. A lifecycle model's history names events: its files are checked in full."""
    leads_path, events_path = _write(tmp_path, [[Event.of("l0", "view", AT - H, id="e1", page="/pricing")]], [])
    _raw(tmp_path, "part-1.parquet", id=["e2", bad_id], page=["/pricing", "/docs/x"])
    run = run_batch(MODEL, str(leads_path), str(events_path), AT, dedupe="never")
    good = [
        Event.of("l0", "view", AT - H, id="e1", page="/pricing"),
        Event.of("l0", "view", AT - H, id="x0", page="/pricing"),
        Event.of("l0", "view", AT - H, id="x1", page="/docs/x"),
    ]
    expected = [r.to_dict() for r in score_many(MODEL, [Lead("l0")], good, AT)]
    assert not differences(expected, run.to_dicts())
    lifecycle = parse_model(
        "format: 1\nname: t\nrules:\n  - {id: v, on: view, points: 50}\n"
        "lifecycle:\n  stages: [lead, mql]\n  transitions:\n    - {to: mql, on: view}\n"
    )
    with pytest.raises(DataFileError, match=r"part-1\.parquet:row 2:id:"):
        run_batch(lifecycle, str(leads_path), str(events_path), AT, dedupe="never")


def test_the_scoring_pass_reads_no_event_id_when_the_duplicate_check_read_them(tmp_path: Path) -> None:
    leads_path, events_path = _write(tmp_path, [[Event.of("l0", "view", AT - H, id="e1", page="/pricing")]], [])
    auto = run_batch(MODEL, str(leads_path), str(events_path), AT, dedupe="auto")
    assert auto.schema.id_check is not None and auto.plan is not None and auto.plan.row_check
    assert re.search(r"\bid\b", _row_check(auto)) is None  # the id's tests are the duplicate pass's
    never = run_batch(MODEL, str(leads_path), str(events_path), AT, dedupe="never")
    # without the duplicate check nothing reads the ids: neither the scoring pass nor a scan of their own
    assert never.schema.id_check is None and re.search(r"\bid\b", _row_check(never)) is None
    assert never.schema.scan_check is None or '"id"' not in never.schema.scan_check


def _row_check(run: BatchRun) -> str:
    """The events view's row check (`sources.ROW_CHECK`) as DuckDB keeps it."""
    view = run.con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'events'").fetchall()[0][0]
    found = re.search(r"\), (\(.*\)) AS _ls_chk FROM", view)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("dictionary", [True, False], ids=["dictionary", "plain"])
@pytest.mark.parametrize(
    ("columns", "field"),
    [
        ({"page": ["/ok", "a\x00b"]}, "page"),  # read by the model: in the pass when stored plain
        ({"type": ["view", "x" * 256]}, "type"),
        ({"type": ["view", " view"]}, None),  # a type to strip: the views strip it, nothing is refused
        ({"timestamp": [AT - H, None]}, "timestamp"),
    ],
    ids=["nul-read", "long-type", "type-to-strip", "no-time"],
)
def test_the_checks_in_scans_of_their_own_refuse_as_the_pass_did(
    tmp_path: Path, dictionary: bool, columns: dict[str, list[object]], field: str | None
) -> None:
    """The row conditions on dictionary-encoded columns, on the time and on columns the scoring pass
    does not read are scans of their own before the query (`file_checks.row_check_sql`); stored plain
    or with a dictionary, a bad row is refused named, and nothing is written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    leads_path, events_path = _write(tmp_path, [], [Lead("l0")])
    base: dict[str, object] = {
        "lead_id": ["l0", "l0"],
        "type": ["view", "view"],
        "timestamp": [AT - H, AT - H],
        "id": ["e1", "e2"],
        "page": ["/ok", "/pricing"],
        "note": ["a", "b"],
    }
    table = pa.table({**base, **columns})
    table = table.set_column(2, "timestamp", table["timestamp"].cast(pa.timestamp("us", tz="UTC")))
    pq.write_table(table, events_path / "part-1.parquet", use_dictionary=dictionary)
    out = tmp_path / "out.parquet"
    if field is None:
        run = run_batch(MODEL, str(leads_path), str(events_path), AT, out=out, dedupe="never", breakdown="columns")
        expected = [r.to_dict() for r in score_many(MODEL, [Lead("l0")], read_events(events_path), AT)]
        assert not differences(expected, run.to_dicts())
        return
    with pytest.raises(DataFileError, match=rf"part-1\.parquet:row 2:{field}:"):
        run_batch(MODEL, str(leads_path), str(events_path), AT, out=out, dedupe="never")
    assert not out.exists()
    with pytest.raises(DataFileError):
        read_events(events_path)  # the reader refuses it too


@pytest.mark.parametrize("dictionary", [True, False], ids=["dictionary", "plain"])
def test_with_trusted_ids_a_text_the_model_does_not_read_is_not_checked(tmp_path: Path, dictionary: bool) -> None:
    """`--dedupe never`: a NUL in a column no rule reads cannot reach the single pass's results (as an
    event id there, `file_checks.row_check_sql`): the scores are those of the same events without it.
    With the duplicate check (copies compared by content), or a lifecycle model (its history names
    events), the files are checked in full and the row is refused, named."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    leads_path, events_path = _write(tmp_path, [], [Lead("l0")])
    times = pa.array([AT - H, AT - 2 * H], pa.timestamp("us", tz="UTC"))
    table = pa.table({"lead_id": ["l0", "l0"], "type": ["view", "view"], "timestamp": times, "id": ["e1", "e2"]})
    table = table.append_column("page", pa.array(["/pricing", "/docs"])).append_column("note", pa.array(["a", "b\x00"]))
    pq.write_table(table, events_path / "part-1.parquet", use_dictionary=dictionary)
    run = run_batch(MODEL, str(leads_path), str(events_path), AT, dedupe="never", breakdown="columns")
    assert run.plan is not None and run.plan.row_check
    assert run.schema.scan_check is None or '"note"' not in run.schema.scan_check
    good = [
        Event.of("l0", "view", AT - H, id="e1", page="/pricing"),
        Event.of("l0", "view", AT - 2 * H, id="e2", page="/docs"),
    ]
    expected = [r.to_dict() for r in score_many(MODEL, [Lead("l0")], good, AT)]
    assert not differences(expected, run.to_dicts())
    with pytest.raises(DataFileError, match=r"part-1\.parquet:row 2:note:"):
        run_batch(MODEL, str(leads_path), str(events_path), AT, dedupe="auto")
    lifecycle = parse_model(
        "format: 1\nname: t\nrules:\n  - {id: v, on: view, points: 50}\n"
        "lifecycle:\n  stages: [lead, mql]\n  transitions:\n    - {to: mql, on: view}\n"
    )
    with pytest.raises(DataFileError, match=r"part-1\.parquet:row 2:note:"):
        run_batch(lifecycle, str(leads_path), str(events_path), AT, dedupe="never")


def test_the_characters_ids_are_stripped_of_are_those_of_str_strip() -> None:
    from leadscore.batch.duckdb.file_checks import STRIPPED

    assert "".join(chr(c) for c in range(0x110000) if chr(c).isspace()) == STRIPPED


_EDGES = ["", "a", "ab", " a", "a ", "a\t", "\ta", "~", "!", "a~", "a!", "a\x7f", "\x7fa", "aé", "éa", "a\xa0"]
_EDGES += ["a\u3000", "\u3000"]


@settings(max_examples=examples(60), deadline=None)
@given(texts=st.lists(st.text(max_size=5) | st.sampled_from(_EDGES), min_size=1, max_size=20))
def test_the_edge_test_is_the_first_or_last_character_outside_printable_ascii(texts: list[str]) -> None:
    """`edge_sql` in DuckDB, against its definition in Python: a text whose first or last character is
    below '!' or from chr(127) on; every text that strip changes is among them."""
    from leadscore.batch.duckdb.file_checks import edge_sql

    texts = [t.replace("\x00", "") for t in texts]
    con = fresh_connection()
    got = [row[0] for row in con.execute(f"SELECT {edge_sql('t')} FROM unnest(?) AS u(t)", [texts]).fetchall()]

    def outside(c: str) -> bool:
        return c < "!" or c >= chr(127)

    assert got == [bool(t) and (outside(t[0]) or outside(t[-1])) for t in texts]
    assert all(g for t, g in zip(texts, got, strict=True) if t.strip() != t)
