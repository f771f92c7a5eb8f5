"""The output written by the scoring statement itself (`BatchRun._score_to_file`): the same results as the
pure scorer, a file put in place only whole and once the run's checks passed, and the result table's path
taken where a row needs it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from leadscore.batch import run_batch
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import parse_timestamp
from leadscore.engine import score_many
from leadscore.io.errors import DataFileError
from leadscore.model import parse_model
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table

AT = parse_timestamp("2026-06-01T00:00:00Z")
H = timedelta(hours=1)
MODEL = parse_model(
    "format: 1\nname: t\nrules:\n  - {id: v, on: view, where: {page: {contains: pricing}}, points: 1}\n"
    "  - {id: s, on: signup, points: 5}\n"
)
EVENTS = [
    Event.of("l0", "view", AT - H, id="e1", page="/pricing"),
    Event.of("l0", "signup", AT - 2 * H, id="e2"),
    Event.of("l1", "view", AT - H, id="e3", page="/docs"),
    Event.of("late", "view", AT + H, id="e4", page="/pricing"),  # a lead id seen only after T
]
LEADS = [Lead("l0"), Lead("l1"), Lead("l2")]


def _write(tmp: Path, events: list[Event]) -> tuple[Path, Path]:
    import pyarrow.parquet as pq

    (tmp / "events").mkdir()
    pq.write_table(events_table(events), tmp / "events" / "part-0.parquet")
    pq.write_table(leads_table(LEADS), tmp / "leads.parquet")
    return tmp / "leads.parquet", tmp / "events"


def _expected(events: list[Event]) -> list[dict[str, object]]:
    return [r.to_dict() for r in score_many(MODEL, [*LEADS, Lead("late")], events, AT)]


def _leftovers(tmp: Path) -> list[str]:
    return [p.name for p in tmp.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("name", ["out.jsonl", "out.parquet"])
def test_the_statement_writes_the_output_itself_equal_to_the_pure_scorer(tmp_path: Path, name: str) -> None:
    import duckdb

    leads, events = _write(tmp_path, EVENTS)
    out = tmp_path / name
    out.write_text("an older output, replaced whole")
    run = run_batch(MODEL, str(leads), str(events), AT, out=out, dedupe="never", breakdown="list")
    assert run.written == out  # no result table: the scoring statement wrote the file
    assert (run.stats.leads, run.stats.events, run.stats.fallback_leads) == (4, 3, 0)
    if name.endswith(".jsonl"):
        got = [json.loads(line) for line in out.read_text().splitlines()]
        assert not differences(_expected(EVENTS), got)
    else:  # the same rows as the result table's path writes (`BatchRun.write`, the table made when asked)
        table = run.write(tmp_path / "table.parquet", "list")
        rows = [duckdb.sql(f"SELECT * FROM '{p}' ORDER BY lead_id").fetchall() for p in (out, table)]
        assert rows[0] == rows[1] and len(rows[0]) == 4
    assert not differences(_expected(EVENTS), run.to_dicts())  # the result table made when asked
    assert not _leftovers(tmp_path)


def test_a_bad_row_leaves_an_existing_output_as_it_was(tmp_path: Path) -> None:
    leads, events = _write(tmp_path, [*EVENTS, Event.of("l1", "view", AT - H, id="e9", page="a\x00b")])
    out = tmp_path / "out.parquet"
    out.write_text("an older output")
    with pytest.raises(DataFileError, match=r"part-0\.parquet:row 5:page:"):
        run_batch(MODEL, str(leads), str(events), AT, out=out, dedupe="never")
    assert out.read_text() == "an older output"
    assert not _leftovers(tmp_path)


def test_a_row_that_needs_the_files_check_takes_the_result_table(tmp_path: Path) -> None:
    """Types to strip are met by the statement's check (`input_check`): the files are checked, and the
    run starts again with views that strip them, its output written from the result table."""
    events = [*EVENTS, Event.of("l1", "signup", AT - H, id="e5")]
    leads, path = _write(tmp_path, events)
    import pyarrow.parquet as pq

    table = pq.read_table(path / "part-0.parquet")
    types = [f" {t} " if i == 4 else t for i, t in enumerate(table["type"].to_pylist())]
    pq.write_table(table.set_column(table.schema.get_field_index("type"), "type", [types]), path / "part-0.parquet")
    out = tmp_path / "out.jsonl"
    run = run_batch(MODEL, str(leads), str(path), AT, out=out, dedupe="never")
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert not differences(_expected(events), got)
    assert {r["lead_id"]: r["score"] for r in got}["l1"] == 5.0
    assert run.stats.events == 4
    assert not _leftovers(tmp_path)


@pytest.mark.parametrize("repeated", [False, True], ids=["distinct", "repeated"])
def test_the_duplicate_check_run_ahead_is_settled_before_the_file_is_put_in_place(
    tmp_path: Path, repeated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `--dedupe auto` the ids' pass runs beside the statement as if they were distinct
    (`BatchRun._ids_ahead`): a repeat it finds drops the statement's file and the query runs again,
    dropping it; the output holds the results the pure scorer gives (it drops repeats too)."""
    from leadscore.batch.duckdb import id_ahead

    started: list[bool] = []
    real = id_ahead.IdsAhead.__init__

    def spy(self: id_ahead.IdsAhead, *args: object, **kwargs: object) -> None:
        started.append(True)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(id_ahead.IdsAhead, "__init__", spy)
    events = [*EVENTS, *([Event.of("l0", "signup", AT - 3 * H, id="e2")] if repeated else [])]
    leads, path = _write(tmp_path, events)
    out = tmp_path / "out.jsonl"
    out.write_text("an older output")
    run = run_batch(MODEL, str(leads), str(path), AT, out=out, dedupe="auto")
    assert started  # the pass ran ahead of the statement
    assert run.stats.deduplicated is repeated
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert not differences(_expected(events), got)
    assert {r["lead_id"]: r["score"] for r in got}["l0"] == 6.0
    assert not _leftovers(tmp_path)
