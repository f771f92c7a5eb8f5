"""Parsing speed of event files into Event objects, per format.

Writes its input files to a temporary directory (nothing in the repository) and prints rows/s:

    .venv/bin/python benchmarks/io_read.py [--rows 500000]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from leadscore.io import iter_event_batches

TYPES = ("page_view", "email_open", "email_click", "purchase", "form_fill")


def _rows(n: int) -> Iterator[dict[str, object]]:
    """Synthetic events, generated on the fly so the benchmark holds no large structure while it reads."""
    rnd = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(n):
        ts = start + timedelta(seconds=rnd.randrange(0, 365 * 86_400))
        yield (
            {
                "id": f"e-{i}",
                "lead_id": f"c-{rnd.randrange(0, n // 20 + 1)}",
                "type": rnd.choice(TYPES),
                "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "amount": round(rnd.random() * 200, 2),
                "page": f"/p/{rnd.randrange(0, 500)}",
            }
        )


def _write_csv(rows: Iterator[dict[str, object]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "lead_id", "type", "timestamp", "amount", "page"])
        writer.writeheader()
        writer.writerows(rows)


def _write_jsonl(rows: Iterator[dict[str, object]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def _write_parquet(rows: Iterator[dict[str, object]], path: Path) -> None:
    """Timestamps as a Parquet timestamp column (UTC), as warehouses export them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("id", pa.string()),
            ("lead_id", pa.string()),
            ("type", pa.string()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("amount", pa.float64()),
            ("page", pa.string()),
        ]
    )
    with pq.ParquetWriter(path, schema) as writer:
        while chunk := list(itertools.islice(rows, 100_000)):
            for row in chunk:
                row["timestamp"] = datetime.fromisoformat(str(row["timestamp"]))
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))


def _measure(path: Path, n: int) -> float:
    """Rows per second of CPU time (best of 3): steadier than wall time on a shared machine."""
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        count = sum(len(b.items) for b in iter_event_batches(path))
        best = min(best, time.process_time() - t0)
        if count != n:
            raise SystemExit(f"{path.name}: read {count} events, expected {n}")
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=500_000)
    args = parser.parse_args()
    writers: dict[str, Callable[[Iterator[dict[str, object]], Path], None]] = {
        "events.csv": _write_csv,
        "events.jsonl": _write_jsonl,
        "events.parquet": _write_parquet,
    }
    with tempfile.TemporaryDirectory() as tmp:
        print("| file | rows | MB | rows/s (CPU time) |\n|---|---|---|---|")
        for name, write in writers.items():
            path = Path(tmp) / name
            write(_rows(args.rows), path)
            rate = _measure(path, args.rows)
            size = path.stat().st_size / 1e6
            print(f"| {name} | {args.rows:,} | {size:.1f} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
