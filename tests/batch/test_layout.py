"""The sample that picks the form of the scoring query's counts (`batch/duckdb/layout.py`): events lead
by lead, or spread over time; both forms give the same results."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadscore.batch import run_batch
from leadscore.batch.duckdb.layout import events_clustered, parquet_events
from leadscore.batch.duckdb.run import connect
from leadscore.model import parse_model

AT = "2026-06-01T00:00:00Z"
MODEL = """
format: 1
name: layout
dimensions:
  engagement: {cap: 40}
rules:
  - {id: visits, dimension: engagement, on: visit, within: 30d, points: 2}
  - {id: clicks, dimension: engagement, on: click, points: 5, decay: {half_life: 10d}}
  - {id: busy, dimension: engagement, when: {count: visit, within: 30d, gte: 3}, points: 7}
  - {id: seen, dimension: engagement, when: {last: click, newer_than: 5d}, points: 1}
labels:
  temperature:
    - {label: hot, when: {score: engagement, gte: 30}}
    - {label: cold}
"""


def _events(leads: int, per_lead: int, lead_by_lead: bool, seed: int = 7) -> pa.Table:
    rnd = random.Random(seed)
    base = 1_780_272_000_000_000  # AT in epoch micros
    rows = [
        (f"L{i:06d}", rnd.choice(["visit", "click", "open"]), base - rnd.randrange(60 * 86_400) * 1_000_000)
        for i in range(leads)
        for _ in range(per_lead)
    ]
    if not lead_by_lead:
        rows.sort(key=lambda r: r[2])  # in time order: a lead's events spread over the whole file
    return pa.table(
        {
            "lead_id": [r[0] for r in rows],
            "type": [r[1] for r in rows],
            "timestamp": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
            "id": [f"e{k}" for k in range(len(rows))],
        }
    )


@pytest.mark.parametrize(("lead_by_lead", "expected"), [(True, True), (False, False)])
def test_sample_tells_lead_by_lead_from_time_order(lead_by_lead: bool, expected: bool) -> None:
    con = connect()
    con.register("ev", _events(20_000, 10, lead_by_lead))
    assert events_clustered(con, "ev") is expected


def test_few_leads_count_as_clustered() -> None:
    """A handful of leads in time order: their states stay in cache whatever the order."""
    con = connect()
    con.register("ev", _events(50, 40, lead_by_lead=False))
    assert events_clustered(con, "ev") is True


def test_empty_events_are_not_clustered() -> None:
    con = connect()
    con.register("ev", _events(0, 0, lead_by_lead=True))
    assert events_clustered(con, "ev") is False


@pytest.mark.parametrize("lead_by_lead", [True, False])
def test_the_first_files_rows_by_row_number_answer_as_the_view_does(tmp_path: Path, lead_by_lead: bool) -> None:
    """Parquet files: the sample read from the first file by row number decides as the view's first rows."""
    events = _events(20_000, 10, lead_by_lead)
    pq.write_table(events.slice(0, 120_000), tmp_path / "a.parquet", row_group_size=50_000)
    pq.write_table(events.slice(120_000), tmp_path / "b.parquet")
    files = parquet_events(tmp_path)
    assert files == [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]
    con = connect()
    con.register("ev", events)
    assert events_clustered(con, "ev", files=files) is lead_by_lead
    assert events_clustered(con, "ev") is lead_by_lead


def test_a_first_file_shorter_than_the_sample_leaves_it_to_the_view(tmp_path: Path) -> None:
    """A first file of a few rows of one lead says nothing of the rest: the view's first rows decide (in
    time order, spread), not those few rows (which would say lead by lead)."""
    spread = _events(20_000, 10, lead_by_lead=False)
    pq.write_table(pa.concat_tables([spread.slice(0, 1)] * 50), tmp_path / "a.parquet")
    pq.write_table(spread, tmp_path / "b.parquet")
    con = connect()
    con.execute(
        f"CREATE VIEW ev AS SELECT * FROM read_parquet(['{tmp_path / 'a.parquet'}', '{tmp_path / 'b.parquet'}'])"
    )
    assert events_clustered(con, "ev", files=parquet_events(tmp_path)) is False
    # one file: its rows are all the view holds, however few
    assert events_clustered(con, "ev", files=[str(tmp_path / "a.parquet")]) is True


def test_only_parquet_sources_name_files(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("lead_id,type,timestamp\n")
    assert parquet_events(tmp_path / "e.csv") == []
    assert parquet_events(pa.table({"lead_id": ["x"]})) == []
    assert parquet_events(tmp_path / "e.parquet") == [str(tmp_path / "e.parquet")]


def test_both_forms_give_the_same_results(tmp_path: Path) -> None:
    """Through real Parquet files: the run on the file written lead by lead takes `count_if`, the run on
    the same events in time order keeps the FILTER form, and every result is the same."""
    model = parse_model(MODEL)
    leads = pa.table({"id": [f"L{i:06d}" for i in range(10_000)]})
    pq.write_table(leads, tmp_path / "leads.parquet")
    results = {}
    for lead_by_lead in (True, False):
        d = tmp_path / ("grouped" if lead_by_lead else "spread")
        d.mkdir()
        pq.write_table(_events(10_000, 10, lead_by_lead), d / "events.parquet")
        run = run_batch(model, tmp_path / "leads.parquet", d / "events.parquet", AT, dedupe="never")
        assert run.clustered is lead_by_lead
        assert run.plan is not None and ("count_if(" in run.plan.sql) is lead_by_lead
        results[lead_by_lead] = sorted(run.to_dicts(), key=lambda r: r["lead_id"])
    assert results[True] == results[False]
    assert any(r["breakdown"] for r in results[True])  # the rules did score


@pytest.mark.parametrize("common", [True, False])
def test_a_contains_look_up_is_made_before_the_query_where_its_column_often_holds_a_dotted_i(common: bool) -> None:
    """`contains: istanbul` over paths where "İstanbul" is common (it is made before the query: deferred,
    most leads would be scored again) or absent (deferred: nothing to evaluate); results equal the pure
    scorer's either way."""
    from datetime import timedelta

    from leadscore.domain.events import Event
    from leadscore.domain.lead import Lead
    from leadscore.domain.timeutil import parse_timestamp
    from leadscore.engine import score_many
    from tests.batch.compare import differences
    from tests.batch.tables import events_table, leads_table

    model = parse_model(
        "format: 1\nname: t\nrules:\n  - {id: ist, on: view, where: {path: {contains: istanbul}}, points: 1}\n"
    )
    at = parse_timestamp(AT)
    city = "İstanbul" if common else "Ankara"
    paths = [f"/{city}/{i}" for i in range(3)] + ["/istanbul/x", "/ISTANBUL"]
    events = [Event.of(f"l{i % 7}", "view", at - timedelta(hours=i), path=paths[i % 5]) for i in range(40)]
    leads = [Lead(f"l{i}") for i in range(7)]
    run = run_batch(model, leads_table(leads), events_table(events), at)
    assert not differences([r.to_dict() for r in score_many(model, leads, events, at)], run.to_dicts())
    assert [lk.deferred for lk in run.lookups.entries.values()] == [not common]
