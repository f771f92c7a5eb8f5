from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from leadscore.predictive.errors import DataError
from leadscore.predictive.table import parse_label, read_table, sniff_delimiter
from tests.predictive.conftest import shared_file


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_reads_any_usual_delimiter(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "leads.txt"
    rows = [["id", "city", "won"], ["1", "Paris", "yes"], ["2", "Lyon", "no"], ["3", "Nice", "yes"]]
    path.write_text("\n".join(delimiter.join(r) for r in rows) + "\n", encoding="utf-8")
    frame = read_table(path)
    assert list(frame.columns) == ["id", "city", "won"]
    assert frame["city"].tolist() == ["Paris", "Lyon", "Nice"]


def test_sniffs_semicolon_with_quotes() -> None:
    assert sniff_delimiter('"a";"b";"c"\n1;"x, y";3\n2;"z";4\n') == ";"


def test_reads_the_real_bank_file() -> None:
    frame = read_table(shared_file("bank_full.csv"))
    assert frame.shape == (45211, 17)
    assert parse_label(frame["y"], "y").sum() == 5289


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["yes", "no", "YES"], [1, 0, 1]),
        (["TRUE", "FALSE", "true"], [1, 0, 1]),
        ([1, 0, 1], [1, 0, 1]),
        ([1.0, 0.0, 1.0], [1, 0, 1]),
        (["1", "0", "0"], [1, 0, 0]),
        ([True, False, True], [1, 0, 1]),
    ],
)
def test_label_spellings(values: list[object], expected: list[int]) -> None:
    assert parse_label(pd.Series(values), "won").tolist() == expected


def test_non_binary_label_names_column_and_values() -> None:
    with pytest.raises(DataError, match=r"'stage'.*'lost'.*'open'.*'won'"):
        parse_label(pd.Series(["won", "lost", "open"]), "stage")


def test_single_outcome_is_an_error() -> None:
    with pytest.raises(DataError, match="only one outcome"):
        parse_label(pd.Series(["no", "no"]), "y")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "nope.csv")
