"""The files `generate` writes: determinism, counts, time range, chunking, CSV, manifest, `sample`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from leadscore.domain import Event, Lead
from leadscore.generate import GENERATOR_VERSION, Summary, chunks, generate, sample
from tests.generate.conftest import read_events


def test_same_seed_same_bytes_and_other_seed_other_data(tmp_path: Path) -> None:
    generate("b2b", 300, tmp_path / "a", seed=5)
    generate("b2b", 300, tmp_path / "b", seed=5)
    generate("b2b", 300, tmp_path / "c", seed=6)
    files = ["leads.parquet", "events/part-00000.parquet", "leads.csv", "events.csv", "manifest.json"]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert pq.read_table(tmp_path / "a" / "leads.parquet") != pq.read_table(tmp_path / "c" / "leads.parquet")
    assert read_events(tmp_path / "a") != read_events(tmp_path / "c")


def test_manifest_counts_match_the_files(b2b_run: tuple[Summary, Path]) -> None:
    summary, out = b2b_run
    manifest = json.loads((out / "manifest.json").read_text())
    events = read_events(out)
    assert manifest["version"] == GENERATOR_VERSION
    assert manifest["kind"] == "b2b" and manifest["seed"] == 11
    assert manifest["counts"]["leads"] == pq.read_metadata(out / "leads.parquet").num_rows == 5000
    assert manifest["counts"]["events"] == events.num_rows == summary.events
    by_type = events.group_by("type").aggregate([("id", "count")]).to_pylist()
    assert {r["type"]: r["id_count"] for r in by_type} == manifest["counts"]["events_by_type"]
    assert "fit" in manifest["hidden_propensity"]["latent"]
    assert [c["name"] for c in manifest["campaigns"]][:2] == ["brand-awareness", "lead-scoring-ebook"]
    # The default average is 50 events per lead.
    assert 42 <= events.num_rows / 5000 <= 58


def test_events_per_lead_sets_the_volume(tmp_path: Path) -> None:
    summary = generate("b2c", 2000, tmp_path, seed=1, events_per_lead=10)
    assert 8 <= summary.events / 2000 <= 12


def test_times_stay_inside_the_window(tmp_path: Path) -> None:
    generate("b2b", 400, tmp_path, seed=2, start="2025-01-01", end="2025-07-01T00:00:00Z")
    events = read_events(tmp_path)
    leads = pq.read_table(tmp_path / "leads.parquet")
    lo, hi = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)
    for column in (events.column("timestamp"), leads.column("created_at")):
        span = pc.min_max(column).as_py()
        assert lo <= span["min"] and span["max"] < hi
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["time_range"]["start"] == "2025-01-01T00:00:00Z"
    # A lead's history starts when it was created.
    first = events.group_by("lead_id").aggregate([("timestamp", "min")])
    created = dict(zip(leads.column("id").to_pylist(), leads.column("created_at").to_pylist(), strict=True))
    for lead_id, ts in zip(first.column("lead_id").to_pylist(), first.column("timestamp_min").to_pylist(),
                           strict=True):
        assert ts == created[lead_id]


def test_default_window_is_18_months_to_june_2026(b2c_run: tuple[Summary, Path]) -> None:
    summary, _ = b2c_run
    assert summary.start == datetime(2024, 12, 1, tzinfo=UTC)
    assert summary.end == datetime(2026, 6, 1, tzinfo=UTC)


def test_chunks_make_parts_with_sorted_events_and_continuous_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunks, "CHUNK_LEADS", 400)
    generate("b2c", 1000, tmp_path, seed=3, format="parquet", events_per_lead=5)
    parts = sorted((tmp_path / "events").glob("part-*.parquet"))
    assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    leads = pq.read_table(tmp_path / "leads.parquet").column("id").to_pylist()
    assert leads == [f"L{i:07d}" for i in range(1, 1001)]
    seen_ids: set[str] = set()
    for part in parts:
        table = pq.read_table(part)
        keys = list(zip(table.column("lead_id").to_pylist(), table.column("timestamp").to_pylist(), strict=True))
        assert keys == sorted(keys)
        ids = table.column("id").to_pylist()
        assert not seen_ids & set(ids)
        seen_ids |= set(ids)
    assert len(seen_ids) == sum(pq.read_metadata(p).num_rows for p in parts)
    assert not (tmp_path / "leads.csv").exists()


def test_csv_holds_the_same_rows_as_parquet(b2c_run: tuple[Summary, Path]) -> None:
    _, out = b2c_run
    import pyarrow.csv as pcsv

    leads_csv = pcsv.read_csv(out / "leads.csv")
    leads = pq.read_table(out / "leads.parquet")
    assert leads_csv.column("id").to_pylist() == leads.column("id").to_pylist()
    assert leads_csv.column("email").to_pylist() == leads.column("email").to_pylist()
    events_csv = pcsv.read_csv(out / "events.csv", convert_options=pcsv.ConvertOptions(
        column_types={"timestamp": "string"}))
    events = read_events(out)
    assert events_csv.num_rows == events.num_rows
    assert events_csv.column("id").to_pylist()[:50] == events.column("id").to_pylist()[:50]
    first = events.column("timestamp")[0].as_py()
    assert events_csv.column("timestamp")[0].as_py() == first.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_large_runs_skip_csv_unless_asked(tmp_path: Path) -> None:
    summary = generate("b2c", 10_001, tmp_path, seed=0, events_per_lead=1)
    assert "leads.csv" not in summary.files and not (tmp_path / "events.csv").exists()


@pytest.mark.slow
def test_sample_returns_what_generate_writes(b2c_run: tuple[Summary, Path]) -> None:
    _, out = b2c_run
    leads, events = sample("b2c", 4000, seed=11)
    assert all(isinstance(lead, Lead) for lead in leads) and all(isinstance(e, Event) for e in events)
    table = pq.read_table(out / "leads.parquet").slice(0, 3).to_pylist()
    for row, lead in zip(table, leads, strict=False):
        assert lead.id == row["id"] and lead.attributes["email"] == row["email"]
        assert lead.attributes["created_at"] == row["created_at"]
    written = read_events(out)
    assert len(events) == written.num_rows
    row = written.slice(0, 1).to_pylist()[0]
    first = events[0]
    assert (first.id, first.lead_id, first.type, first.timestamp) == (
        row["id"], row["lead_id"], row["type"], row["timestamp"])
    assert first.timestamp.tzinfo is UTC
    assert None not in first.properties.values()
    assert {k for k, v in row.items() if v is not None} - {"id", "lead_id", "type", "timestamp"} == set(
        first.properties)
