import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadscore.io import DataFileError, RejectsWriter, iter_event_batches


def ingest_skip_invalid(source: Path, rejects: Path, batch_size: int = 2) -> tuple[int, int]:
    """What `ingest --skip-invalid` does with a file: keep good rows, write bad ones."""
    kept = 0
    with RejectsWriter(rejects) as writer:
        for batch in iter_event_batches(source, batch_size=batch_size):
            kept += len(batch.items)
            writer.write(batch.errors)
        return kept, writer.count


def test_csv_rejects_keep_the_original_fields_with_line_and_reasons(tmp_path: Path) -> None:
    source = tmp_path / "events.csv"
    source.write_text(
        "lead_id;type;timestamp;amount\n"
        "c-1;visit;2026-01-01;007\n"
        ";visit;2026-13-01; 12 \n"
        "c-2;visit;2026-01-02;5\n"
        "c-3;visit\n"
    )
    rejects = tmp_path / "rejects.csv"
    assert ingest_skip_invalid(source, rejects) == (2, 2)
    with rejects.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows == [
        {
            "lead_id": "",
            "type": "visit",
            "timestamp": "2026-13-01",
            "amount": " 12 ",
            "_line": "3",
            "_error": f"{source}:3:lead_id: missing lead id | "
            f"{source}:3:timestamp: not an ISO 8601 timestamp: '2026-13-01'",
        },
        {
            "lead_id": "c-3",
            "type": "visit",
            "timestamp": "",
            "amount": "",
            "_line": "5",
            "_error": f"{source}:5: expected 4 fields, found 2",
        },
    ]


def test_jsonl_rejects_of_parquet_rows(tmp_path: Path) -> None:
    source = tmp_path / "events.parquet"
    pq.write_table(
        pa.table(
            {
                "lead_id": ["a", "b", "c"],
                "type": ["t", None, "t"],
                "timestamp": ["2026-01-01", "2026-01-01", "x"],
                "tags": [["x"], ["y"], None],
            }
        ),
        source,
    )
    rejects = tmp_path / "rejects.jsonl"
    assert ingest_skip_invalid(source, rejects) == (1, 2)
    rows = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert rows == [
        {
            "lead_id": "b",
            "type": None,
            "timestamp": "2026-01-01",
            "tags": ["y"],
            "_line": 2,
            "_error": f"{source}:row 2:type: missing event type",
        },
        {
            "lead_id": "c",
            "type": "t",
            "timestamp": "x",
            "tags": None,
            "_line": 3,
            "_error": f"{source}:row 3:timestamp: not an ISO 8601 timestamp: 'x'",
        },
    ]


def test_csv_rejects_of_json_rows_keep_fields_a_later_row_adds(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text(
        '{"lead_id": "a", "type": "t", "timestamp": "no", "n": 1}\n'
        '{"lead_id": "b", "type": "t", "timestamp": "no", "meta": {"k": [1, 2]}}\n'
        "oops\n"
    )
    rejects = tmp_path / "rejects.csv"
    assert ingest_skip_invalid(source, rejects, batch_size=10) == (0, 3)
    with rejects.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["_line"] for r in rows] == ["1", "2", "3"]
    assert rows[1]["lead_id"] == "b"
    assert rows[1]["_error"].endswith('| extra fields: {"meta": {"k": [1, 2]}}')
    assert rows[2]["_error"] == f"{source}:3: not valid JSON: Expecting value" + ' | extra fields: {"_raw": "oops"}'


def test_an_existing_rejects_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("mine\n")
    with pytest.raises(DataFileError, match=r"already exists.*--force"):
        RejectsWriter(rejects)
    assert rejects.read_text() == "mine\n"


def test_the_input_is_never_its_own_rejects_file(tmp_path: Path) -> None:
    source = tmp_path / "events.csv"
    source.write_text("lead_id,type,timestamp\na,t,2026-01-01\n")
    for same in (source, tmp_path / "." / "events.csv"):
        with pytest.raises(DataFileError, match="is the input file"):
            RejectsWriter(same, force=True, inputs=[source])
    assert source.read_text() == "lead_id,type,timestamp\na,t,2026-01-01\n"


def test_rejects_are_written_through_a_temporary_file(tmp_path: Path) -> None:
    source = tmp_path / "events.csv"
    source.write_text("lead_id,type,timestamp\na,t,nope\n")
    rejects = tmp_path / "rejects.jsonl"
    rejects.write_text("old\n")
    with RejectsWriter(rejects, force=True) as writer:
        for batch in iter_event_batches(source):
            writer.write(batch.errors)
        assert rejects.read_text() == "old\n"  # replaced only once complete
    assert json.loads(rejects.read_text())["_line"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv", "rejects.jsonl"]


def test_no_rejects_file_when_nothing_is_rejected(tmp_path: Path) -> None:
    with RejectsWriter(tmp_path / "rejects.csv") as writer:
        assert writer.write([]) == 0
    assert list(tmp_path.iterdir()) == []
    kept = tmp_path / "kept.csv"
    kept.write_text("mine\n")
    with RejectsWriter(kept, force=True) as writer:
        writer.write([])
    assert kept.read_text() == "mine\n"


def test_rejects_file_needs_a_known_extension(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="rejects file must end in one of"):
        RejectsWriter(tmp_path / "rejects.xlsx")
