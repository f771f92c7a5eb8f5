import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from leadscore.domain import BreakdownEntry, PlaybookMatch, Result
from leadscore.io import DataFileError, dump_results, flatten_result, write_results

AT = datetime(2026, 6, 1, tzinfo=UTC)


def result(lead_id: str, score: float, *, playbook: bool = True, extras: dict[str, object] | None = None) -> Result:
    return Result(
        lead_id=lead_id,
        at=AT,
        model="shoe-shop",
        model_version="v1abc",
        score=score,
        dimensions={"engagement": score - 10, "fit": 10.0},
        labels={"segment": "ambassador" if score > 45 else "engaged", "temperature": None},
        stage="mql",
        breakdown=(BreakdownEntry("shoe-purchase", "engagement", score - 10, events=2),),
        playbook=PlaybookMatch(0, "call", 1, name="hot") if playbook else None,
        extras=extras or {},
    )


def test_flatten_result() -> None:
    assert flatten_result(result("c-17", 46.0)) == {
        "lead_id": "c-17",
        "score": 46.0,
        "dim:engagement": 36.0,
        "dim:fit": 10.0,
        "label:segment": "ambassador",
        "label:temperature": None,
        "stage": "mql",
        "action": "call",
        "priority": 1,
        "model_version": "v1abc",
        "at": "2026-06-01T00:00:00Z",
    }
    assert flatten_result(result("c-1", 5.0, playbook=False))["action"] is None


def test_json_is_an_indented_list_of_plain_values(tmp_path: Path) -> None:
    extras = {"probability": float("nan"), "seen": datetime(2026, 1, 1, 12, tzinfo=UTC), "top": ("a", "b")}
    path = write_results([result("c-17", 46.0, extras=extras)], tmp_path / "out.json")
    text = path.read_text()
    assert text.startswith("[\n  {")
    (data,) = json.loads(text)
    assert data["at"] == "2026-06-01T00:00:00Z"
    assert data["breakdown"] == [{"rule": "shoe-purchase", "dimension": "engagement", "points": 36.0, "events": 2}]
    assert (data["probability"], data["seen"], data["top"]) == (None, "2026-01-01T12:00:00Z", ["a", "b"])
    assert "NaN" not in text


def test_jsonl_one_result_per_line(tmp_path: Path) -> None:
    path = write_results([result("a", 1.0), result("b", 50.0)], tmp_path / "out.ndjson")
    assert [json.loads(line)["lead_id"] for line in path.read_text().splitlines()] == ["a", "b"]


def test_csv_flat_columns(tmp_path: Path) -> None:
    path = write_results([result("a", 1.0), result("b", 50.0, playbook=False)], tmp_path / "out.csv")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "lead_id",
        "score",
        "dim:engagement",
        "dim:fit",
        "label:segment",
        "label:temperature",
        "stage",
        "action",
        "priority",
        "model_version",
        "at",
    ]
    assert rows[1] == {
        "lead_id": "b",
        "score": "50.0",
        "dim:engagement": "40.0",
        "dim:fit": "10.0",
        "label:segment": "ambassador",
        "label:temperature": "",
        "stage": "mql",
        "action": "",
        "priority": "",
        "model_version": "v1abc",
        "at": "2026-06-01T00:00:00Z",
    }


def test_parquet_by_explicit_format(tmp_path: Path) -> None:
    path = write_results([result("a", 1.0), result("b", 50.0, playbook=False)], tmp_path / "scores.out", "parquet")
    table = pq.read_table(path)
    assert table.column("dim:engagement").to_pylist() == [-9.0, 40.0]
    assert table.column("priority").to_pylist() == [1, None]
    assert table.column("at").to_pylist()[0] == AT


def test_dump_to_a_stream_and_unknown_formats(tmp_path: Path) -> None:
    import io

    out = io.StringIO()
    dump_results([result("a", 1.0)], out, "jsonl")
    assert json.loads(out.getvalue())["lead_id"] == "a"
    with pytest.raises(DataFileError, match="cannot tell the output format"):
        write_results([], tmp_path / "out.xlsx")
    with pytest.raises(DataFileError, match="unknown format 'xml'"):
        write_results([], tmp_path / "out.json", "xml")
    with pytest.raises(DataFileError, match="cannot write"):
        write_results([], tmp_path / "missing-dir" / "out.json")
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left behind


def test_empty_results_still_make_a_valid_file(tmp_path: Path) -> None:
    assert json.loads(write_results([], tmp_path / "a.json").read_text()) == []
    assert (tmp_path / "b.csv").exists() is False
    write_results([], tmp_path / "b.csv")
    assert (tmp_path / "b.csv").read_text().startswith("lead_id,score,stage")
    assert pq.read_table(write_results([], tmp_path / "c.parquet")).num_rows == 0
