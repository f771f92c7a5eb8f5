from pathlib import Path

import pytest

from leadscore.io import DataFileError, Format, detect_format
from leadscore.io.formats import parquet_files, sniff_delimiter


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", Format.CSV),
        ("a.TSV", Format.CSV),
        ("a.txt", Format.CSV),
        ("a.jsonl", Format.JSONL),
        ("a.ndjson", Format.JSONL),
        ("a.json", Format.JSON),
        ("a.parquet", Format.PARQUET),
    ],
)
def test_format_by_extension(tmp_path: Path, name: str, fmt: Format) -> None:
    path = tmp_path / name
    path.write_text("")
    assert detect_format(path) is fmt


def test_unknown_extension_names_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "events.xlsx"
    path.write_text("")
    with pytest.raises(DataFileError, match=r"events\.xlsx: unknown file type '\.xlsx'; expected one of .*\.csv"):
        detect_format(path)


def test_missing_file_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"nope\.csv: no such file"):
        detect_format(tmp_path / "nope.csv")
    with pytest.raises(DataFileError, match=r"no \.parquet files"):
        detect_format(tmp_path)


def test_directory_of_parquet_files_in_name_order(tmp_path: Path) -> None:
    for name in ["part-2.parquet", "part-10.parquet", "part-1.parquet", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    assert detect_format(tmp_path) is Format.PARQUET
    assert [p.name for p in parquet_files(tmp_path)] == ["part-1.parquet", "part-10.parquet", "part-2.parquet"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_sniffs_each_delimiter(delimiter: str) -> None:
    rows = [
        ["lead_id", "type", "timestamp", "note"],
        ["c-1", "visit", "2026-01-01", "a b"],
        ["c-2", "buy", "2026-01-02", "x"],
    ]
    sample = "".join(delimiter.join(r) + "\n" for r in rows)
    assert sniff_delimiter(sample) == delimiter


def test_sniff_is_not_fooled_by_delimiters_inside_quotes() -> None:
    sample = 'id;name;city\n1;"Smith, John";"Oslo, Norway"\n2;"Doe, Jane";Bergen\n'
    assert sniff_delimiter(sample) == ";"


def test_sniff_prefers_the_consistent_split() -> None:
    # commas appear in the text column but not in every row: semicolon splits all rows alike
    sample = "id;note\n1;hello, world\n2;plain\n3;a, b, c\n"
    assert sniff_delimiter(sample) == ";"


def test_single_column_file_falls_back_to_preferred() -> None:
    assert sniff_delimiter("id\n1\n2\n") == ","
    assert sniff_delimiter("id\n1\n2\n", preferred="\t") == "\t"
