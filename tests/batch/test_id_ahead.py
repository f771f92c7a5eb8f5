"""The duplicate check's pass run on a thread while the query runs: taken only where the row groups' id
ranges ascend, and a wrong guess (a repeat after all) scores as the check before the query did."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from leadscore.batch import run_batch
from leadscore.batch.duckdb import id_ahead, run
from leadscore.batch.duckdb.file_checks import parquet_sources
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import parse_timestamp
from leadscore.engine import score_many
from leadscore.io import read_events
from leadscore.io.errors import DataFileError
from leadscore.model import parse_model
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table

AT = parse_timestamp("2026-06-01T00:00:00Z")
MODEL = parse_model("format: 1\nname: t\nrules:\n  - {id: v, on: view, where: {page: pricing}, points: 1}\n")
LEADS = [Lead("l0"), Lead("l1")]


def _files(tmp: Path, parts: list[list[str]], group_rows: int = 1 << 20) -> list[str]:
    """One Parquet file per part, one pricing view of lead l0 or l1 per id (in turn), row groups of
    `group_rows` rows."""
    import pyarrow.parquet as pq

    (tmp / "events").mkdir()
    k = 0
    for i, ids in enumerate(parts):
        rows = []
        for event_id in ids:
            rows.append(Event.of(f"l{k % 2}", "view", AT - timedelta(hours=1 + k), id=event_id, page="pricing"))
            k += 1
        pq.write_table(events_table(rows), tmp / "events" / f"part-{i}.parquet", row_group_size=group_rows)
    pq.write_table(leads_table(LEADS), tmp / "leads.parquet")
    return parquet_sources(tmp / "events")


def _scored(tmp: Path, dedupe: str = "auto") -> run.BatchRun:
    """The batch run, compared lead by lead with the pure scorer over the events as the reader reads them."""
    batch = run_batch(MODEL, str(tmp / "leads.parquet"), str(tmp / "events"), AT, dedupe=dedupe)
    expected = [r.to_dict() for r in score_many(MODEL, LEADS, read_events(tmp / "events"), AT)]
    got = batch.to_dicts()
    assert not differences(expected, got), differences(expected, got)
    return batch


def _started(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The files of every pass started ahead of the query."""
    started: list[list[str]] = []
    real = id_ahead.IdsAhead.__init__

    def spy(self: id_ahead.IdsAhead, files: list[str], tail_limit: int, test: bool) -> None:
        started.append(files)
        real(self, files, tail_limit, test)

    monkeypatch.setattr(id_ahead.IdsAhead, "__init__", spy)
    return started


def test_row_groups_of_ascending_ids_are_ascending(tmp_path: Path) -> None:
    files = _files(tmp_path, [[f"e{k:02d}" for k in range(10)], [f"e{k:02d}" for k in range(10, 16)]], group_rows=3)
    assert id_ahead.ascending_groups(files)


@pytest.mark.parametrize(
    "parts",
    [
        [["e00", "e01", "e02", "e03"], ["e01", "e04"]],  # delivered again in a later file
        [["e03", "e02", "e01", "e00"]],  # descending: the second group's ids lie below the first's
        [["ev-1", "ev-2", "ev-9", "ev-10", "ev-11"]],  # counters: ev-10 sorts before ev-9 as text
    ],
)
def test_overlapping_ranges_keep_the_check_before_the_query(
    tmp_path: Path, parts: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _files(tmp_path, parts, group_rows=2)
    assert not id_ahead.ascending_groups(files)
    started = _started(monkeypatch)
    _scored(tmp_path)
    assert started == []


def test_distinct_ascending_ids_let_the_query_run_while_the_pass_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _files(tmp_path, [[f"e{k:02d}" for k in range(8)], [f"e{k:02d}" for k in range(8, 12)]], group_rows=3)
    started = _started(monkeypatch)
    batch = _scored(tmp_path)
    assert len(started) == 1 and not batch.stats.deduplicated
    assert sorted(r["score"] for r in batch.to_dicts()) == [6.0, 6.0]


def test_a_repeat_inside_a_row_group_runs_the_query_again_dropping_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The groups' ranges ascend, but one group holds e02 twice (for l0, two rows apart): the guess was
    wrong, and the second query drops the copy as the check before the query would have."""
    _files(tmp_path, [["e00", "e01", "e02", "e03", "e02", "e05"], ["e06", "e07"]], group_rows=6)
    started = _started(monkeypatch)
    queries: list[str] = []
    real = run.BatchRun._plan

    def spy(self: run.BatchRun) -> None:
        real(self)
        queries.append("dedupe" if self.stats.deduplicated else "as distinct")

    monkeypatch.setattr(run.BatchRun, "_plan", spy)
    batch = _scored(tmp_path)
    assert len(started) == 1 and queries == ["as distinct", "dedupe"] and batch.stats.deduplicated
    assert {r["lead_id"]: r["score"] for r in batch.to_dicts()} == {"l0": 3.0, "l1": 4.0}


@pytest.mark.parametrize("bad_id", ["e03\x00", " e03", "e" * 300])
def test_an_id_the_reader_refuses_or_strips_is_found_by_the_pass_run_ahead(
    tmp_path: Path, bad_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NUL refuses the input, named; an id to strip restarts the run with views that strip (no pass
    ahead then: the ids are not read as stored); one too long is refused."""
    _files(tmp_path, [["e00", "e01", "e02", bad_id, "f"]])
    started = _started(monkeypatch)
    if bad_id.strip() == bad_id:
        with pytest.raises(DataFileError, match=r"part-0\.parquet:row 4"):
            run_batch(MODEL, str(tmp_path / "leads.parquet"), str(tmp_path / "events"), AT)
    else:
        _scored(tmp_path)
    assert len(started) == 1


def test_trusted_ids_and_the_always_mode_start_no_pass_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _files(tmp_path, [[f"e{k:02d}" for k in range(6)]])
    started = _started(monkeypatch)
    _scored(tmp_path, "never")
    assert _scored(tmp_path, "always").stats.deduplicated
    assert started == []
