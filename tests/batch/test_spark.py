"""`--engine spark`: results written by a local Spark equal the pure scorer's (one session, a few leads),
also for the leads whose stage the SQL cannot decide and that are scored on the executors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import parse_timestamp, to_micros
from leadscore.engine import score_many
from leadscore.engine.errors import ScoringDataError
from leadscore.model import parse_model
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table

pytestmark = [pytest.mark.spark, pytest.mark.integration, pytest.mark.slow]

AT = "2026-06-01T00:00:00Z"
MODEL = """
format: 1
name: spark-check
dimensions:
  engagement: {floor: -10, cap: 40}
  fit: {}
rules:
  - {id: buy, dimension: engagement, on: purchase, where: {category: [shoes, bags]}, points: 20, within: 30d}
  - {id: open, dimension: engagement, on: open, points: 1.5, decay: {half_life: 7d}, limit: 4}
  - {id: demo, dimension: engagement, on: demo, once: true, decay: {linear: 30d}, points: 30}
  - {id: big, dimension: fit, when: {attribute: employees, between: [100, 200]}, points: 100}
  - {id: spend, dimension: engagement, when: {sum: amount, of: purchase, gt: 250}, points: 5}
  - {id: quiet, dimension: engagement, when: {none: [open, purchase], within: 30d}, points: -15}
  - {id: seen, dimension: fit, when: {last: open, newer_than: 1d}, points: 2}
labels:
  segment:
    - {label: hot, when: {score: total, gte: 100}}
    - {label: warm, when: {score: engagement, gt: 0}}
    - {label: cold}
lifecycle:
  stages: [lead, mql, sql, customer]
  exits: [lost]
  transitions:
    - {to: mql, when: {attribute: employees, gte: 150}}
    - {to: mql, when: {score: engagement, gte: 25}}
    - {to: sql, on: accepted}
    - {to: customer, on: won, from: [sql]}
    - {to: lost, on: lost}
playbooks:
  - {when: {all: [{stage: {in: [mql, sql]}}, {label: segment, eq: hot}]}, action: call, priority: 1, content: [deck]}
  - {action: nurture}
"""


def _data() -> tuple[list[Lead], list[Event]]:
    leads = [
        Lead.of("a", employees=150),
        Lead.of("b", employees=120),
        Lead.of("c"),
        Lead.of("d", employees=90),
        Lead.of("e", stage="sql"),
    ]
    events = [
        Event.of("a", "purchase", "2026-05-20", id="1", category="shoes", amount=300.0),
        Event.of("a", "open", "2026-05-31T12:00:00Z", id="2"),
        Event.of("a", "accepted", "2026-05-02", id="3"),
        Event.of("b", "accepted", "2026-05-01", id="4"),
        Event.of("b", "won", "2026-05-01", id="5"),  # same instant: input order decides (sql, then customer)
        Event.of("b", "demo", "2026-05-10", id="6"),
        Event.of("b", "purchase", "2026-05-02T00:00:00Z", id="7", category="bags", amount=10.0),
        Event.of("b", "purchase", "2026-05-02T00:00:00Z", id="7", category="shoes", amount=999.0),  # repeated id
        Event.of("a", "open", "2026-06-02", id="8"),  # after T
        Event.of("z", "open", "2026-05-30", id="9"),  # a lead known only from its events
        Event.of("d", "open", "2026-05-29", id="10"),
        Event.of("d", "open", "2026-05-30", id="11"),
        Event.of("y", "demo", "2026-05-25", id="12"),  # known only from its events, enough for mql
        Event.of("y", "purchase", "2026-05-26", id="13", category="bags", amount=20.0),
        Event.of("y", "lost", "2026-05-27", id="14"),
        Event.of("e", "purchase", "2026-05-28", id="15", category="shoes", amount=5.0),
        Event.of("e", "won", "2026-05-29", id="16"),
    ]
    return leads, events


def _read(out: Path) -> list[dict[str, Any]]:
    """The results Spark wrote: a directory of part files, read back as a user would."""
    assert out.is_dir()
    if out.suffix == ".parquet":
        import duckdb

        got = duckdb.sql(f"SELECT * FROM read_parquet('{out}/*.parquet')").to_arrow_table().to_pylist()
        for r in got:
            r["breakdown"] = [{k: v for k, v in e.items() if not (k == "events" and v is None)} for e in r["breakdown"]]
        return got
    return [json.loads(line) for part in sorted(out.glob("part-*")) for line in part.read_text().splitlines()]


def _write_inputs(tmp_path: Path, leads: list[Lead], events: list[Event]) -> tuple[Path, Path]:
    import pyarrow.parquet as pq

    pq.write_table(leads_table(leads), tmp_path / "leads.parquet")
    pq.write_table(events_table(events), tmp_path / "events.parquet")
    return tmp_path / "leads.parquet", tmp_path / "events.parquet"


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_spark_equals_pure_scorer(spark: Any, tmp_path: Path, suffix: str) -> None:
    from leadscore.batch.spark.run import run_spark

    model = parse_model(MODEL)
    leads, events = _data()
    out = tmp_path / f"out{suffix}"
    # an earlier run's output is replaced: a file (as the DuckDB engine writes) or a directory
    if suffix == ".jsonl":
        out.write_text('{"lead_id":"old"}\n')
    else:
        out.mkdir()
        (out / "stale.txt").write_text("from an earlier run")
    stats = run_spark(model, *_write_inputs(tmp_path, leads, events), AT, out, spark=spark)
    got = _read(out)
    assert not (out / "stale.txt").exists()
    expected = [r.to_dict() for r in score_many(model, [*leads, Lead("z"), Lead("y")], events, AT)]
    assert not differences(expected, got), differences(expected, got)
    assert stats.leads == 7
    at_us = to_micros(parse_timestamp(AT))
    assert stats.events == len({(e.lead_id, e.id) for e in events if e.ts <= at_us})  # repeated ids once
    # both paths are exercised: results shaped by Spark SQL and results of the pure scorer on executors
    assert 0 < stats.fallback_leads < stats.leads


def test_spark_refuses_bad_stage_data(spark: Any, tmp_path: Path) -> None:
    from leadscore.batch.spark.run import run_spark

    model = parse_model(MODEL)
    leads = [Lead.of("ok", employees=10), Lead.of("bad", stage="nowhere")]
    events = [Event.of("bad", "open", "2026-05-30", id="1")]
    with pytest.raises(ScoringDataError) as info:
        run_spark(model, *_write_inputs(tmp_path, leads, events), AT, tmp_path / "out.jsonl", spark=spark)
    assert info.value.lead_id == "bad" and "nowhere" in info.value.detail


TEXT_MODEL = r"""
format: 1
name: spark-text
rules:
  - id: senior
    when: {attribute: title, matches: '(?i)\b(chief|c[eomt]o|vp|vice president|head of|director)\b'}
    points: 10
  - {id: koeln, when: {attribute: city, contains: 'KÖLN'}, points: 3}
  - {id: kelvin, when: {attribute: city, contains: 'k'}, points: 1}
  - {id: street, on: v, where: {street: {contains: 'straße'}}, points: 2}
"""


def test_spark_evaluates_regexes_and_case_folding_with_the_pure_scorers_code(spark: Any, tmp_path: Path) -> None:
    """Predicates without exact Spark SQL run as pandas UDFs on the executors; no lead falls back."""
    from leadscore.batch.spark.run import run_spark

    model = parse_model(TEXT_MODEL)
    titles = ["Chief Revenue Officer", "cto of things", "directorate", "VP Sales", "İnşaat", "vice  president"]
    cities = ["Köln", "KÖLN", "\u212aöln", "Kiel", "İstanbul", "köln-süd"]
    leads = [Lead.of(f"L{i}", title=titles[i % 6], city=cities[(i * 5) % 6]) for i in range(12)]
    streets = ["Hauptstraße 1", "HAUPTSTRASSE 1", "Königsallee 12", "STRASSE"]
    events = [Event.of(f"L{i % 12}", "v", "2026-05-01", id=f"e{i}", street=streets[i % 4]) for i in range(20)]
    out = tmp_path / "out.jsonl"
    stats = run_spark(model, *_write_inputs(tmp_path, leads, events), AT, out, spark=spark)
    expected = [r.to_dict() for r in score_many(model, leads, events, AT)]
    assert not differences(expected, _read(out)), differences(expected, _read(out))
    assert stats.fallback_leads == 0


def test_spark_reads_every_files_columns(spark: Any, tmp_path: Path) -> None:
    """A property or attribute that only a later file of a directory has is read (Spark takes one file's
    columns unless asked to merge them), as the reader the pure scorer uses reads it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from leadscore.batch.spark.run import run_spark
    from leadscore.io import read_events, read_leads

    model = parse_model(MODEL)
    (tmp_path / "leads").mkdir()
    (tmp_path / "events").mkdir()
    pq.write_table(pa.table({"id": ["a", "c"]}), tmp_path / "leads" / "l0.parquet")
    pq.write_table(pa.table({"id": ["b"], "employees": [150]}), tmp_path / "leads" / "l1.parquet")
    ts = pa.array([1_779_000_000_000_000] * 2, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    base = {"lead_id": ["a", "b"], "type": ["purchase", "purchase"], "timestamp": ts}
    pq.write_table(pa.table({**base, "id": ["1", "2"]}), tmp_path / "events" / "p0.parquet")
    pq.write_table(
        pa.table({**base, "id": ["3", "4"], "category": ["shoes", "hats"], "amount": [300.0, 1.0]}),
        tmp_path / "events" / "p1.parquet",
    )
    out = tmp_path / "out.jsonl"
    run_spark(model, tmp_path / "leads", tmp_path / "events", AT, out, spark=spark)
    events = read_events(tmp_path / "events")
    expected = [r.to_dict() for r in score_many(model, read_leads(tmp_path / "leads"), events, AT)]
    assert not differences(expected, _read(out)), differences(expected, _read(out))
    assert {r["lead_id"]: r["dimensions"]["fit"] for r in _read(out)}["b"] >= 100  # employees of l1 read


def test_spark_refuses_a_column_two_files_store_as_different_kinds(spark: Any, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from leadscore.batch.duckdb.sources import SourceError
    from leadscore.batch.spark.run import run_spark

    (tmp_path / "events").mkdir()
    ts = pa.array([1_779_000_000_000_000], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    base = {"lead_id": ["a"], "type": ["purchase"], "timestamp": ts}
    first, second = tmp_path / "events" / "p0.parquet", tmp_path / "events" / "p1.parquet"
    pq.write_table(pa.table({**base, "amount": [300.0]}), first)
    pq.write_table(pa.table({**base, "amount": ["300"]}), second)
    pq.write_table(pa.table({"id": ["a"]}), tmp_path / "leads.parquet")
    out = tmp_path / "out.jsonl"
    with pytest.raises(SourceError) as info:
        run_spark(parse_model(MODEL), tmp_path / "leads.parquet", tmp_path / "events", AT, out, spark=spark)
    assert f"column 'amount' is DOUBLE in {first} but VARCHAR in {second}" in str(info.value)
    assert not out.exists()


def test_spark_refuses_files_without_a_required_column_in_the_readers_words(spark: Any, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from leadscore.batch.duckdb.sources import SourceError
    from leadscore.batch.spark.run import run_spark

    events, leads = tmp_path / "events.parquet", tmp_path / "leads.parquet"
    pq.write_table(pa.table({"type": ["v"], "note": ["x"]}), events)
    pq.write_table(pa.table({"employees": [5]}), leads)
    out = tmp_path / "out.jsonl"
    with pytest.raises(SourceError) as info:
        run_spark(parse_model(MODEL), leads, events, AT, out, spark=spark)
    assert str(info.value) == f"{leads}: missing required column 'id' (or 'lead_id'); columns found: employees"
    pq.write_table(pa.table({"id": ["a"]}), leads)
    with pytest.raises(SourceError) as info:
        run_spark(parse_model(MODEL), leads, events, AT, out, spark=spark)
    assert str(info.value) == f"{events}: missing required columns 'lead_id', 'timestamp'; columns found: type, note"
    assert not out.exists()
