"""CSV reading, through the public readers: what a user's file turns into."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadscore.io import DataFileError, iter_event_batches, read_events, read_leads


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_events_with_any_common_delimiter(tmp_path: Path, delimiter: str) -> None:
    rows = [["lead_id", "type", "timestamp", "amount"], ["c-1", "purchase", "2026-01-01T10:00:00Z", "12.5"]]
    path = write(tmp_path, "events.csv", "".join(delimiter.join(r) + "\n" for r in rows))
    (event,) = read_events(path)
    assert (event.lead_id, event.type, event.properties) == ("c-1", "purchase", {"amount": 12.5})
    assert event.timestamp == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_bom_crlf_and_surrounding_spaces(tmp_path: Path) -> None:
    text = "\ufefflead_id , type,timestamp, city\r\n c-1 , visit , 2026-01-01 , Oslo \r\n"
    (event,) = read_events(write(tmp_path, "events.csv", text))
    assert event.lead_id == "c-1"
    assert event.type == "visit"
    assert event.properties == {"city": "Oslo"}


def test_tsv_extension_and_txt(tmp_path: Path) -> None:
    text = "id\tname\n1\tAda\n"
    assert read_leads(write(tmp_path, "leads.tsv", text))[0].attributes == {"name": "Ada"}
    assert read_leads(write(tmp_path, "leads.txt", text))[0].id == "1"


def test_typed_cells_and_missing_values(tmp_path: Path) -> None:
    text = "id,employees,revenue,zip,phone,score,active,note,empty\nc-1,12,1.5,007,0612345678,-3e2,true,nan,\n"
    (lead,) = read_leads(write(tmp_path, "leads.csv", text))
    assert lead.attributes == {
        "employees": 12,
        "revenue": 1.5,
        "zip": "007",
        "phone": "0612345678",
        "score": -300.0,
        "active": "true",
        "note": "nan",
    }
    assert "empty" not in lead.attributes


def test_quoted_fields_with_delimiters_quotes_and_newlines_keep_line_numbers(tmp_path: Path) -> None:
    text = (
        "lead_id,type,timestamp,comment\n"
        'c-1,visit,2026-01-01,"first line\nsecond, line ""quoted"""\n'
        "c-2,visit,2026-13-01,x\n"
    )
    path = write(tmp_path, "events.csv", text)
    with pytest.raises(DataFileError) as info:
        read_events(path)
    assert str(info.value) == f"{path}:4:timestamp: not an ISO 8601 timestamp: '2026-13-01'"
    (batch,) = iter_event_batches(path)
    assert batch.items[0].properties == {"comment": 'first line\nsecond, line "quoted"'}
    assert batch.lines == [2]


def test_ids_and_types_stay_text(tmp_path: Path) -> None:
    text = "lead_id,type,timestamp,id\n007,404,2026-01-01,0012\n"
    (event,) = read_events(write(tmp_path, "events.csv", text))
    assert (event.lead_id, event.type, event.id) == ("007", "404", "0012")


def test_blank_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    text = "lead_id,type,timestamp\n\nc-1,visit,2026-01-01\n,,\n   \nc-2,,2026-01-01\n"
    path = write(tmp_path, "events.csv", text)
    with pytest.raises(DataFileError) as info:
        read_events(path)
    assert str(info.value) == f"{path}:6:type: missing event type"


def test_wrong_number_of_fields(tmp_path: Path) -> None:
    text = "lead_id,type,timestamp\nc-1,visit\nc-2,visit,2026-01-01,extra\n"
    path = write(tmp_path, "events.csv", text)
    with pytest.raises(DataFileError) as info:
        read_events(path)
    assert str(info.value).splitlines() == [
        f"{path}:2: expected 3 fields, found 2",
        f"{path}:3: expected 3 fields, found 4",
    ]


def test_header_problems_are_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="empty file: expected a header row"):
        read_events(write(tmp_path, "a.csv", "\n\n"))
    with pytest.raises(DataFileError, match=r"b\.csv:1:type: duplicate column name 'type'"):
        read_events(write(tmp_path, "b.csv", "lead_id,type,type,timestamp\n"))
    with pytest.raises(DataFileError, match="column 2 has no name"):
        read_events(write(tmp_path, "c.csv", "lead_id,,timestamp\n"))


def test_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "events.csv", "lead_id,type,timestamp,city\nc-1,visit,2026-01-01,Tromsø\n", "latin-1")
    with pytest.raises(DataFileError, match="not UTF-8 text"):
        read_events(path)


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    assert read_events(write(tmp_path, "events.csv", "lead_id,type,timestamp\n")) == []
