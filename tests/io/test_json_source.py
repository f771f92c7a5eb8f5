import json
from pathlib import Path

import pytest

from leadscore.io import DataFileError, iter_event_batches, read_events, read_leads


def test_jsonl_keeps_types_drops_nulls_and_keeps_nested_values(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    rows = [
        {
            "lead_id": 17,
            "type": "purchase",
            "timestamp": "2026-01-01T10:00:00+02:00",
            "id": 5,
            "amount": "12",
            "items": [{"sku": "A", "qty": 2}],
            "meta": {"utm": "x"},
            "coupon": None,
            "vip": True,
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (event,) = read_events(path)
    assert (event.lead_id, event.id) == ("17", "5")
    assert event.timestamp.isoformat() == "2026-01-01T08:00:00+00:00"
    assert event.properties == {"amount": "12", "items": [{"sku": "A", "qty": 2}], "meta": {"utm": "x"}, "vip": True}


def test_ndjson_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text(
        '{"lead_id": "c-1", "type": "visit", "timestamp": "2026-01-01"}\n'
        "\n"
        '{"lead_id": "c-2", "type": "visit", "timestamp": "2026-02-30"}\n'
        '{"lead_id": "c-3", "type": "visit", "timestamp": "2026-01-01"\n'
        "[1, 2]\n"
        '{"lead_id": "", "type": 3, "timestamp": null}\n'
    )
    with pytest.raises(DataFileError) as info:
        read_events(path)
    assert str(info.value).splitlines() == [
        f"{path}:3:timestamp: not an ISO 8601 timestamp: '2026-02-30'",
        f"{path}:4: not valid JSON: Expecting ',' delimiter",
        f"{path}:5: expected a JSON object, found list",
        f"{path}:6:lead_id: missing lead id",
        f"{path}:6:type: event type must be text, found 3",
        f"{path}:6:timestamp: missing timestamp",
    ]


def test_json_list_reports_the_line_each_object_starts_on(tmp_path: Path) -> None:
    path = tmp_path / "leads.json"
    path.write_text('[\n  {"id": "a", "size": 10},\n  {\n    "id": "b"\n  },\n  {"id": "a"}\n]\n')
    with pytest.raises(DataFileError) as info:
        read_leads(path)
    assert str(info.value) == f"{path}:6:id: duplicate lead id 'a' (first on line 2)"


def test_json_list_of_objects(tmp_path: Path) -> None:
    path = tmp_path / "leads.json"
    path.write_text(json.dumps([{"id": 1, "size": 10}, {"lead_id": "2", "tags": ["x"]}]))
    leads = read_leads(path)
    assert [(lead.id, dict(lead.attributes)) for lead in leads] == [("1", {"size": 10}), ("2", {"tags": ["x"]})]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"id": 1}', "must hold a list of objects"),
        ("[", "not valid JSON"),
        ('[{"id": 1},]', "not valid JSON"),
        ('[{"id": 1} {"id": 2}]', "expected ',' or ']'"),
    ],
)
def test_malformed_json_list(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "leads.json"
    path.write_text(text)
    with pytest.raises(DataFileError, match=message):
        read_leads(path)


def test_empty_json_list_and_empty_jsonl(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(" [ ] ")
    (tmp_path / "b.jsonl").write_text("")
    assert read_leads(tmp_path / "a.json") == []
    assert read_events(tmp_path / "b.jsonl") == []


def test_jsonl_bad_rows_keep_their_original_fields(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"lead_id": "c-1", "type": "visit", "timestamp": "soon", "x": 1}\nnot json\n')
    (batch,) = iter_event_batches(path)
    assert [e.record for e in batch.errors] == [
        {"lead_id": "c-1", "type": "visit", "timestamp": "soon", "x": 1},
        {"_raw": "not json"},
    ]
