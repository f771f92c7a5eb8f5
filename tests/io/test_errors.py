from leadscore.io.errors import MAX_SHOWN, DataFileError, RowError


def test_row_error_reads_file_line_column_message() -> None:
    error = RowError("events.csv", 14, "timestamp", "2026-13-01", "not an ISO 8601 timestamp: '2026-13-01'")
    assert str(error) == "events.csv:14:timestamp: not an ISO 8601 timestamp: '2026-13-01'"


def test_parquet_rows_and_file_level_errors() -> None:
    assert str(RowError("e.parquet", 3, "type", None, "missing event type", by_row=True)) == (
        "e.parquet:row 3:type: missing event type"
    )
    assert str(RowError("e.csv", None, "id", None, "missing required column 'id'")) == (
        "e.csv: missing required column 'id'"
    )
    assert str(RowError("e.csv", 4, None, None, "expected 3 fields, found 4")) == "e.csv:4: expected 3 fields, found 4"


def test_data_file_error_shows_one_line_per_error_and_counts_the_rest() -> None:
    errors = [RowError("e.csv", n, "type", "", "missing event type") for n in range(2, 2 + MAX_SHOWN + 5)]
    exc = DataFileError(errors)
    lines = str(exc).splitlines()
    assert len(lines) == MAX_SHOWN + 1
    assert lines[0] == "e.csv:2:type: missing event type"
    assert lines[-1] == "... and 5 more errors"
    assert exc.total == MAX_SHOWN + 5
    assert len(exc.errors) == MAX_SHOWN
    assert isinstance(exc, ValueError)


def test_total_may_exceed_the_errors_given() -> None:
    exc = DataFileError([RowError("e.csv", 2, "type", "", "missing event type")], total=2)
    assert str(exc).splitlines()[-1] == "... and 1 more error"
