import csv
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from leadscore.io import DataFileError, iter_event_batches, iter_lead_batches, read_events
from leadscore.io.errors import MAX_SHOWN


def events_csv(path: Path, n: int, bad_every: int = 0) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "lead_id", "type", "timestamp", "amount", "page"])
        for i in range(n):
            ts = "not-a-time" if bad_every and i % bad_every == bad_every - 1 else f"2026-01-01T00:{i % 60:02d}:00Z"
            writer.writerow([f"e-{i}", f"c-{i % 997}", "visit", ts, i % 250, f"/p/{i % 40}"])
    return path


def test_batches_split_good_rows_from_bad_ones_with_lines(tmp_path: Path) -> None:
    path = events_csv(tmp_path / "events.csv", 25, bad_every=10)
    batches = list(iter_event_batches(path, batch_size=10))
    assert [len(b.items) + len(b.errors) for b in batches] == [10, 10, 5]
    assert [e.line for b in batches for e in b.errors] == [11, 21]  # rows 10 and 20, after the header
    good_lines = [line for b in batches for line in b.lines]
    assert good_lines == [n for n in range(2, 27) if n not in (11, 21)]
    assert all(b.items[k].id == f"e-{b.lines[k] - 2}" for b in batches for k in range(len(b.items)))


def test_read_is_all_or_nothing_and_caps_the_listed_errors(tmp_path: Path) -> None:
    path = events_csv(tmp_path / "events.csv", 300, bad_every=10)
    with pytest.raises(DataFileError) as info:
        read_events(path)
    assert info.value.total == 30
    assert len(info.value.errors) == MAX_SHOWN
    assert str(info.value).splitlines()[-1] == f"... and {30 - MAX_SHOWN} more errors"


def test_missing_column_fails_before_any_batch(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("lead_id,type\nc,t\n")
    with pytest.raises(DataFileError, match="missing required column 'timestamp'"):
        next(iter_event_batches(path))


def test_duplicate_leads_are_caught_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("id\n" + "".join(f"c-{i}\n" for i in range(10)) + "c-3\n")
    batches = list(iter_lead_batches(path, batch_size=4))
    (error,) = [e for b in batches for e in b.errors]
    assert str(error) == f"{path}:12:id: duplicate lead id 'c-3' (first on line 5)"
    assert sum(len(b.items) for b in batches) == 10


def test_batch_size_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        iter_event_batches(events_csv(tmp_path / "e.csv", 1), batch_size=0)


def _events_file(tmp_path: Path, fmt: str, n: int) -> Path:
    csv_path = events_csv(tmp_path / f"events-{n}.csv", n)
    if fmt == "csv":
        return csv_path
    path = csv_path.with_suffix("." + fmt)
    if fmt == "jsonl":
        with csv_path.open(newline="") as src, path.open("w") as out:
            out.writelines(json.dumps(row) + "\n" for row in csv.DictReader(src))
    else:
        pq.write_table(pacsv.read_csv(csv_path), path, row_group_size=1_000)
    return path


_PEAK_CHILD = """
import sys, tracemalloc
from pathlib import Path
from leadscore.io import iter_event_batches
path, size = Path(sys.argv[1]), int(sys.argv[2])
next(iter(iter_event_batches(path, batch_size=1)))  # lazy imports happen before tracing
runs = []
for _ in range(3):
    count = 0
    tracemalloc.start()
    try:
        for batch in iter_event_batches(path, batch_size=size):
            count += len(batch.items)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    runs.append((count, peak))
assert len({c for c, _ in runs}) == 1
print(runs[0][0], min(p for _, p in runs))
"""


def _peak_while_streaming(path: Path, batch_size: int) -> tuple[int, int]:
    """Rows read and the smallest traced peak of three reads, in a process of its own: tracemalloc
    counts every thread of a process, and a thread an earlier test left behind in this worker (a
    rescoring loop retrying against a dropped database, say) can add to every read's peak."""
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_CHILD, str(path), str(batch_size)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    count, peak = done.stdout.split()
    return int(count), int(peak)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_streaming_memory_is_bounded_by_the_batch_not_the_file(tmp_path: Path, fmt: str) -> None:
    small, large = 2_000, 20_000
    count_small, peak_small = _peak_while_streaming(_events_file(tmp_path, fmt, small), 200)
    large_path = _events_file(tmp_path, fmt, large)
    count_large, peak_large = _peak_while_streaming(large_path, 200)
    assert (count_small, count_large) == (small, large)
    # ten times the rows, about the same peak: nothing accumulates across batches
    assert peak_large < 1.5 * peak_small + 64_000, f"peak {peak_large:,} vs {peak_small:,} for 10x the rows"
    if fmt != "parquet":  # compressed, so its size says little
        # less than the file itself: 20,000 rows held as Python objects would take ten times more. (Half
        # the file held when run alone, but in a long run's worker the peak is about 10% higher.)
        assert peak_large < large_path.stat().st_size


def test_the_garbage_collector_runs_while_the_caller_holds_a_batch(tmp_path: Path) -> None:
    import gc

    path = events_csv(tmp_path / "events.csv", 30)
    assert gc.isenabled()
    states = [gc.isenabled() for _ in iter_event_batches(path, batch_size=10)]
    assert states == [True, True, True]
    assert gc.isenabled()
    gc.disable()
    try:  # a caller that turned it off keeps it off
        assert [gc.isenabled() for _ in iter_event_batches(path, batch_size=10)] == [False] * 3
    finally:
        gc.enable()


def test_unknown_format_fails_at_the_call(tmp_path: Path) -> None:
    path = tmp_path / "events.xml"
    path.write_text("<events/>")
    with pytest.raises(DataFileError, match=r"unknown file type '\.xml'"):
        iter_event_batches(path)
