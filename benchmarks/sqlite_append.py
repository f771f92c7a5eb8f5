"""SQLite alone: a bulk request's append to the events log, on the store's own schema and code path.

    PYTHONPATH=src .venv/bin/python benchmarks/sqlite_append.py [--stored 60000 300000] [--requests 6]
        [--size 10000]

A fresh SQLite store (migrated to head, the store's connection settings) in a temporary folder is filled
with `--stored` events, then `--requests` transactions of `--size` events each go through
`SqliteStore.append_all_new` (the bulk endpoint's append: one executemany in a savepoint) and commit.
The events have the shape of benchmarks/api_load.py's bulk events: a random UUID as id, 2,000 leads in
turn, a page view at a rising time. Printed per `--stored`: thread CPU µs per event of the append and of
the commit (which runs the log's automatic checkpoint when due), and the log's and the file's sizes.
Compare two trees by pointing PYTHONPATH at each one's src.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from leadscore.store.backends import SqliteStore
from leadscore.store.migrate import upgrade

LEADS = 2000
T0 = 1_780_000_000_000_000  # epoch µs


def rows(start: int, count: int) -> list[tuple[Any, ...]]:
    """`count` event rows as `events_repo.event_row_tuples` gives them (backends.EVENT_COLUMNS order)."""
    out = []
    for n in range(start, start + count):
        lead = f"B{n % LEADS:05d}"
        out.append((uuid.uuid4().hex, lead, lead, "page_view", T0 + n, '{"path": "/blog"}', T0))
    return out


def measure(folder: Path, stored: int, requests: int, size: int) -> str:
    path = folder / f"append_{stored}.db"
    store = SqliteStore(f"sqlite:///{path}")
    upgrade(store.engine)
    done = 0
    while done < stored:
        part = min(size, stored - done)
        with store.write() as conn:
            store.append_all_new(conn, rows(done, part))
        done += part
    append = commit = 0.0
    for _ in range(requests):
        batch = rows(done, size)
        done += size
        conn = store.engine.connect()
        trans = conn.begin()
        t0 = time.thread_time()
        if not store.append_all_new(conn, batch):
            raise SystemExit("the append refused a batch of new events")
        t1 = time.thread_time()
        trans.commit()
        t2 = time.thread_time()
        conn.close()
        append += t1 - t0
        commit += t2 - t1
    wal = Path(f"{path}-wal")  # measured before the last connection's close checkpoints and removes it
    sizes = f"log {wal.stat().st_size / 1e6:.0f} MB, file {path.stat().st_size / 1e6:.0f} MB"
    store.engine.dispose()
    events = requests * size
    return (
        f"stored {stored:,}: append {append / events * 1e6:.2f} µs/event, commit {commit / events * 1e6:.2f}, "
        f"together {(append + commit) / events * 1e6:.2f} ({sizes})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stored", type=int, nargs="+", default=[60000, 300000])
    parser.add_argument("--requests", type=int, default=6)
    parser.add_argument("--size", type=int, default=10000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    for stored in args.stored:
        with tempfile.TemporaryDirectory(prefix="sqlite_append_") as folder:
            print(measure(Path(folder), stored, args.requests, args.size), flush=True)


if __name__ == "__main__":
    main()
