"""The rows of the tail's ids found by the ordered pass itself (`id_late.py`): every row holding a tail
id, by its input order, or no answer (the check in SQL decides); and the runs equal the pure scorer."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.batch import run_batch
from leadscore.batch.duckdb import duplicates, id_files, id_late, id_order
from leadscore.batch.duckdb.file_checks import parquet_sources
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
# counters (`e9` before `e10`: length first), other widths, non-ASCII, missing and empty ids
_ID = st.sampled_from(["e1", "e2", "e3", "e9", "e10", "e11", "e2x", "ü", "éé", "", None])


def _write(folder: Path, parts: list[list[str | None]], group_rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "events").mkdir()
    pq.write_table(pa.table({"id": ["l0"]}), folder / "leads.parquet")
    for k, ids in enumerate(parts):
        n = len(ids)
        table = pa.table(
            {
                "lead_id": [f"l{i % 2}" for i in range(n)],
                "type": ["view"] * n,
                "timestamp": pa.array([0] * n, pa.timestamp("us", tz="UTC")),
                "id": pa.array(ids, pa.string()),
            }
        )
        pq.write_table(table, folder / "events" / f"part-{k}.parquet", row_group_size=group_rows)


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.lists(_ID, min_size=1, max_size=9), min_size=1, max_size=3),
    group_rows=st.integers(1, 4),
    batch=st.integers(1, 5),
    tail_limit=st.integers(0, 12),
)
def test_the_rows_found_are_every_row_of_a_tail_id(
    parts: list[list[str | None]], group_rows: int, batch: int, tail_limit: int
) -> None:
    """Any ids in files of row groups of any size, read in batches of any size: the pass gives the same
    tail with the rows as without; the rows, when given, are exactly those the view holds a tail id in
    (by `_ls_ord`, with their id); and they are given whenever the late row groups hold every tail id."""
    import pyarrow as pa

    before = id_order._BATCH
    id_order._BATCH = batch
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _write(folder, parts, group_rows)
            con = fresh_connection()
            prepare(con, str(folder / "leads.parquet"), str(folder / "events"), defer_check=True)
            files = parquet_sources(folder / "events")
            plain = id_order._pass(con, tail_limit, False, files)
            found = id_order._pass(con, tail_limit, False, files, late=True)
            if found is None:
                assert plain is None
                return
            assert plain is not None and found.with_id == plain.with_id
            assert sorted(found.tail.to_pylist()) == sorted(plain.tail.to_pylist())
            if not len(found.tail):  # no tail, no row to look at
                assert found.rows is None
                return
            late = set(id_order.late_tail(files, tail_limit).to_pylist())
            con.register("tail_ids", pa.table({"id": found.tail}))
            expected = con.execute(
                "SELECT _ls_ord, id, lead_id FROM events WHERE id IN (SELECT id FROM tail_ids) ORDER BY _ls_ord"
            ).fetchall()
            if found.rows is None:
                assert not set(found.tail.to_pylist()) <= late
                around = found.around
                if around is not None:  # the rows recorded, and the strays' copies within the spans given
                    strays = set(around.strays.to_pylist())
                    assert strays == set(found.tail.to_pylist()) - late
                    ords, ids = (around.rows.column(c).to_pylist() for c in ("_ls_ord", "id"))
                    placed = set(zip(ords, ids, strict=True))
                    inside = {
                        (o, i)
                        for o, i, _ in expected
                        if i in strays and any(lo <= o <= hi for lo, hi in around.spans)
                    }
                    assert placed | inside == {(o, i) for o, i, _ in expected}
                    gone = con.execute("SELECT _ls_ord FROM events WHERE id IS NULL ORDER BY 1").fetchall()
                    assert sorted(around.missing.tolist()) == [g[0] for g in gone]
                return
            rows = found.rows
            assert "lead_id" in rows.column_names  # text lead ids: read on the pass's side, as the view reads them
            got = sorted(zip(*(rows.column(c).to_pylist() for c in ("_ls_ord", "id", "lead_id")), strict=True))
            assert got == expected
    finally:
        id_order._BATCH = before


def test_the_late_ids_are_the_last_whole_row_groups(tmp_path: Path) -> None:
    _write(tmp_path, [["e1", "e2", "e3", "e4"], ["e5", None, "e6"]], 2)
    files = parquet_sources(tmp_path / "events")
    assert id_files.late_ids(files, 0).to_pylist() == []
    assert id_files.late_ids(files, 2).to_pylist() == ["e6"]  # the group before holds 2 rows (a NULL): 3 > 2
    assert id_files.late_ids(files, 3).to_pylist() == ["e5", "e6"]
    assert id_files.late_ids(files, 5).to_pylist() == ["e3", "e4", "e5", "e6"]


def test_the_ids_looked_up_start_where_the_late_ids_break_the_order(tmp_path: Path) -> None:
    """The late groups continue the ids of the group before them, then go back (a file sent again):
    the ids from the break on are the ones looked up; without a break, every late id."""
    _write(tmp_path, [["e1", "e2", "e3", "e4", "e5", None], ["e2", "", "e4"]], 2)
    files = parquet_sources(tmp_path / "events")
    assert id_files.late_ids(files, 5).to_pylist() == ["e5", "e2", "", "e4"]
    assert id_files.before_late(files, 5).to_pylist() == ["e3", "e4"]
    assert id_order.late_tail(files, 5).to_pylist() == ["e2", "e4"]  # e5 goes on from e4, then e2: the break
    assert id_order.late_tail(files, 4).to_pylist() == ["e2", "e4"]  # the break at the first late id (e2 < e5)
    assert id_order.late_tail(files, 2).to_pylist() == ["e4"]  # e4 after e2: no break, the late ids
    assert id_order.late_tail(files, 9).to_pylist() == ["e1", "e2", "e3", "e4", "e5", "e2", "e4"]  # no group before


def test_a_run_of_widths_is_searched_as_fixed_width_bytes() -> None:
    """Ids of several lengths in one ascending batch: each length's run is searched apart."""
    import numpy as np
    import pyarrow as pa

    ids = pa.array(["e8", "e9", "e10", "e11", "e100"])
    late = id_late.LateIds(pa.array(["e9", "e11", "e12", "e100", "x"]))
    offsets, data = id_order._buffers(ids)
    late.look(ids, offsets, data, len(ids), np.arange(10, 15))
    late.record(pa.array(["e9", "x"]), np.array([20, 21]))
    rows = late.rows(pa.array(["e9", "e100", "x"]))
    assert rows is not None
    assert sorted(zip(rows.column("_ls_ord").to_pylist(), rows.column("id").to_pylist(), strict=True)) == [
        (11, "e9"),
        (14, "e100"),
        (20, "e9"),
        (21, "x"),
    ]
    assert late.rows(pa.array(["e9", "e7"])) is None  # e7 is no late id: its copies were not looked for


def _run(tmp: Path, parts: list[list[Event]], leads: list[Lead], group_rows: int | None = None) -> list[dict]:
    import pyarrow.parquet as pq

    (tmp / "events").mkdir(parents=True)
    for i, part in enumerate(parts):
        pq.write_table(events_table(part), tmp / "events" / f"part-{i}.parquet", row_group_size=group_rows)
    pq.write_table(leads_table(leads), tmp / "leads.parquet")
    run = run_batch(MODEL, str(tmp / "leads.parquet"), str(tmp / "events"), AT)
    expected = [r.to_dict() for r in score_many(MODEL, leads, read_events(tmp / "events"), AT)]
    got = run.to_dicts()
    assert not differences(expected, got), differences(expected, got)
    return got


def _ways(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each exact check: whether the pass gave the rows (True) or the check in SQL ran (False)."""
    ways: list[bool] = []
    real = duplicates._exact

    def spy(con: object, table: str, candidates: str = "", rows: str = "") -> None:
        ways.append(bool(rows))
        real(con, table, candidates, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(duplicates, "_exact", spy)
    return ways


def test_repeats_across_files_and_in_one_file_with_same_and_other_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events delivered again in a later file (as exact copies, with other content, by another lead, and
    twice), and repeats at the end of one file: the first copy counts, as in the pure scorer."""
    ways = _ways(monkeypatch)

    def ev(lead: str, k: int, page: str, hours: int = 1) -> Event:
        return Event.of(lead, "view", AT - timedelta(hours=hours + k), id=f"ev-{k}", page=page)

    first = [ev(f"l{k % 3}", k, "pricing" if k % 2 else "home") for k in range(30)]
    again = [ev("l0", 0, "pricing"), ev("l1", 1, "home"), ev("l2", 2, "pricing"), ev("l2", 2, "pricing")]
    again += [ev("l0", 3, "pricing"), Event.of("l1", "view", AT, id="ev-99", page="pricing")]
    leads = [Lead(f"l{i}") for i in range(3)]
    _run(tmp_path / "files", [first, again], leads)
    one = first + again  # the same, appended to one file (rows after the ascending stretch)
    _run(tmp_path / "one", [one], leads, group_rows=8)
    assert ways == [True, True]


def test_a_tail_outside_the_late_row_groups_is_checked_in_sql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stretch ends in rows the late row groups do not hold: the check in SQL finds the repeat."""
    monkeypatch.setattr(duplicates, "TAIL_ROWS", 3)
    ways = _ways(monkeypatch)
    rows = [Event.of("l0", "view", AT - timedelta(hours=k + 1), id=f"e{k:02d}", page="pricing") for k in range(12)]
    rows.insert(3, Event.of("l0", "view", AT, id="e01", page="pricing"))  # early: the tail starts here
    got = _run(tmp_path, [rows], [Lead("l0")], group_rows=4)
    assert [r["score"] for r in got] == [12.0] and ways == [False]


def test_lead_ids_the_pass_cannot_read_are_read_in_sql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Row groups read in parts (or lead ids that are no text): the pass gives the rows without their
    lead ids, the check reads those from the view; the same results as the pure scorer."""
    from leadscore.batch.duckdb.id_files import LeadReads

    monkeypatch.setattr(id_files, "_GROUP_ROWS", 2)
    ways = _ways(monkeypatch)
    tables: list[list[str]] = []
    exact = duplicates._exact

    def spy(con: object, table: str, candidates: str = "", rows: str = "") -> None:
        names = con.execute("DESCRIBE SELECT * FROM _ls_dup_cand").fetchall()  # type: ignore[attr-defined]
        tables.append([row[0] for row in names])
        exact(con, table, candidates, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(duplicates, "_exact", spy)

    def ev(lead: str, k: int, page: str) -> Event:
        return Event.of(lead, "view", AT - timedelta(hours=k + 1), id=f"ev-{k}", page=page)

    first = [ev(f"l{k % 2}", k, "pricing" if k % 3 else "home") for k in range(12)]
    again = [ev("l0", 0, "pricing"), ev("l0", 1, "pricing"), ev("l1", 1, "home")]
    _run(tmp_path, [first, again], [Lead("l0"), Lead("l1")], group_rows=4)
    assert not LeadReads(parquet_sources(tmp_path / "events")).usable
    assert tables == [["_ls_ord", "id"]] and ways == [True]


def test_the_duplicate_check_imports_no_pandas(tmp_path: Path) -> None:
    """The check's Arrow and NumPy conversions avoid pyarrow's conversion of Python objects, whose first
    use imports pandas (0.15-0.19 CPU s and 100 MB of a run that needs none): counters that grow a digit,
    missing and empty ids, a later file repeating ids, the rows of the tail's ids read with their leads."""
    import subprocess
    import sys

    parts: list[list[str | None]] = [[f"e{i}" for i in range(30)] + [None, ""], ["e4", "e13", "e40"]]
    _write(tmp_path, parts, group_rows=8)
    code = (
        "import sys\n"
        "from leadscore.batch.duckdb.duplicates import find_duplicates\n"
        "from leadscore.batch.duckdb.file_checks import parquet_sources\n"
        "from leadscore.batch.duckdb.run import connect\n"
        "from leadscore.batch.duckdb.sources import prepare\n"
        "from pathlib import Path\n"
        f"folder = Path({str(tmp_path)!r})\n"
        "con = connect()\n"
        "schema = prepare(con, str(folder / 'leads.parquet'), str(folder / 'events'), defer_check=True)\n"
        "files = parquet_sources(folder / 'events')\n"
        "check = find_duplicates(con, id_check=schema.id_check, check_files=lambda: None, files=files)\n"
        "assert check.repeated_ids == 2, check\n"
        "assert 'pandas' not in sys.modules, 'pandas imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]


def test_a_tail_with_ids_from_before_the_late_row_groups_is_placed_by_input_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repeat early in the input (an id no late one: its copy in the stretch was not looked for on the
    pass's way) beside events delivered again in a later file and copies of events without id: the
    pass says where the rest may be (`LateIds.around`), the check reads those rows and the events
    without id by their input order, and the first copy counts, as in the pure scorer."""
    monkeypatch.setattr(duplicates, "TAIL_ROWS", 10)
    ran: list[bool] = []
    real = duplicates._around

    def spy(*args: object) -> bool:
        ran.append(real(*args))  # type: ignore[arg-type]
        return ran[-1]

    monkeypatch.setattr(duplicates, "_around", spy)

    def ev(lead: str, k: int, page: str) -> Event:
        return Event.of(lead, "view", AT - timedelta(hours=k + 1), id=f"ev-{k:03d}", page=page)

    when = AT - timedelta(minutes=30)
    first = [ev(f"l{k % 3}", k, "pricing" if k % 2 else "home") for k in range(40)]
    first.insert(6, ev("l2", 2, "pricing"))  # ev-002 again, another page: dropped
    first.insert(12, Event.of("l1", "view", when, page="pricing"))  # without id
    first.insert(22, Event.of("l1", "view", when, page="pricing"))  # its copy: dropped
    first.insert(30, Event.of("l1", "view", when, page="home"))  # another content: counts
    again = [ev("l2", 5, "pricing"), ev("l1", 10, "home"), ev("l2", 11, "home"), ev("l0", 900, "pricing")]
    again.append(Event.of("l1", "view", when, page="pricing"))  # the copy again: dropped
    got = _run(tmp_path, [first, again], [Lead(f"l{i}") for i in range(3)], group_rows=8)
    assert ran == [True]
    assert sum(r["score"] for r in got) == 20 + 1 + 1
