"""Validation of lead and event rows, the same whatever the file format."""

from pathlib import Path

import pytest

from leadscore.io import DataFileError, read_events, read_leads


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_event_fields_and_properties(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", "id,lead_id,type,timestamp,amount\nev-1,c-1,purchase,2026-01-01T00:00:00Z,40\n")
    (event,) = read_events(path)
    assert event.to_dict() == {
        "lead_id": "c-1",
        "type": "purchase",
        "timestamp": "2026-01-01T00:00:00Z",
        "id": "ev-1",
        "amount": 40,
    }


def test_every_problem_of_a_row_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "events.csv", "lead_id,type,timestamp\n,,2026-13-01\n")
    with pytest.raises(DataFileError) as info:
        read_events(path)
    assert str(info.value).splitlines() == [
        f"{path}:2:lead_id: missing lead id",
        f"{path}:2:type: missing event type",
        f"{path}:2:timestamp: not an ISO 8601 timestamp: '2026-13-01'",
    ]
    assert [e.column for e in info.value.errors] == ["lead_id", "type", "timestamp"]
    assert info.value.errors[2].value == "2026-13-01"


def test_bad_ids_in_json(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "e.jsonl",
        '{"lead_id": true, "type": "t", "timestamp": "2026-01-01", "id": 1.5}\n'
        '{"lead_id": 3.0, "type": "t", "timestamp": "2026-01-01", "id": ""}\n',
    )
    with pytest.raises(DataFileError) as info:
        read_events(path)
    assert str(info.value).splitlines() == [
        f"{path}:1:lead_id: not a valid lead id: True (expected text or a whole number)",
        f"{path}:1:id: not a valid event id: 1.5 (expected text or a whole number)",
    ]


def test_missing_timestamp_and_empty_id(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", "lead_id,type,timestamp,id\nc,t,,\nc,t,2026-01-01,\n")
    with pytest.raises(DataFileError) as info:
        read_events(path)
    assert str(info.value) == f"{path}:2:timestamp: missing timestamp"


def test_missing_required_columns_name_the_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path, "events.csv", "lead,type,time\nc,t,2026-01-01\n")
    with pytest.raises(DataFileError) as info:
        read_events(path)
    assert str(info.value) == (
        f"{path}: missing required columns 'lead_id', 'timestamp'; columns found: lead, type, time"
    )
    path = write(tmp_path, "leads.csv", "name,size\nAda,3\n")
    message = r"missing required column 'id' \(or 'lead_id'\); columns found: name, size"
    with pytest.raises(DataFileError, match=message):
        read_leads(path)


def test_leads_accept_lead_id_as_the_id_column(tmp_path: Path) -> None:
    path = write(tmp_path, "leads.csv", "lead_id,size,zip\n0042,12,0100\n")
    (lead,) = read_leads(path)
    assert (lead.id, dict(lead.attributes)) == ("0042", {"size": 12, "zip": "0100"})


def test_leads_with_both_id_columns_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="both 'id' and 'lead_id' columns"):
        read_leads(write(tmp_path, "leads.csv", "id,lead_id\n1,2\n"))
    with pytest.raises(DataFileError, match="both 'id' and 'lead_id' given"):
        read_leads(write(tmp_path, "leads.jsonl", '{"id": 1, "lead_id": 2}\n'))


def test_duplicate_and_missing_lead_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "leads.csv", "id,name\nc-1,A\n,B\nc-2,C\nc-1,D\n17,E\n 17 ,F\n")
    with pytest.raises(DataFileError) as info:
        read_leads(path)
    assert str(info.value).splitlines() == [
        f"{path}:3:id: missing lead id",
        f"{path}:5:id: duplicate lead id 'c-1' (first on line 2)",
        f"{path}:7:id: duplicate lead id '17' (first on line 6)",
    ]
