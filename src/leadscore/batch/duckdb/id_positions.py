"""The keys of a few events picked by their input order, read by their position in the files.

The duplicate check needs the lead, type and time of about one event in a hundred (the rows of the tail's
ids and the events without id, placed by their input order `_ls_ord`: `duplicates._around`), scattered
over every row group, so every page of those three columns is decoded whatever selects them. What
selects them need not cost more: a hash join of every event's `_ls_ord` with the wanted ones (a probe
per event) cost 0.61-0.68 CPU s on the third data set's 10M events, against 0.44 for decoding the
three columns alone. Here a mask of the wanted rows, one bit per event in input order, is joined to
the view by position (`POSITIONAL JOIN`, no probe): 0.46-0.47 CPU s.

The mask is placed by the files' row counts (their metadata); the view's own `_ls_ord` of every row it
picks is then matched with the wanted ones, so a view that gave its rows in another order (or more or
fewer of them) is seen, and the caller joins by `_ls_ord` instead: never a wrong row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadscore.batch.duckdb.id_files import ORD_FILE

if TYPE_CHECKING:
    import duckdb

MASK = "_ls_dup_mask"


def keys_by_position(con: duckdb.DuckDBPyConnection, files: list[str], wanted: str, into: str, keys: str) -> bool:
    """Create the table `into` of `keys` (a projection of the events view's columns, `_ls_ord` among them)
    of the events whose
    `_ls_ord` the table `wanted` lists (once each), picked by their position in `files` (the files the
    view reads, in its order). Whether it could (else `into` is not left behind)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from leadscore.batch.duckdb.arrays import arrow_bools

    try:
        sizes = [pq.read_metadata(f).num_rows for f in files]
    except Exception:  # pyarrow raises its own error types: the join by input order reads the file then
        return False
    ords = con.execute(f"SELECT _ls_ord FROM {wanted}").fetchnumpy()["_ls_ord"]
    ords = np.asarray(ords, dtype=np.int64)
    file, row = (ords // ORD_FILE, ords % ORD_FILE) if len(files) > 1 else (np.zeros_like(ords), ords)
    size = np.asarray(sizes, dtype=np.int64)
    if len(ords) and (int(file.min()) < 0 or int(file.max()) >= len(files) or bool((row >= size[file]).any())):
        return False
    starts = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    mask = np.zeros(int(size.sum()), dtype=bool)
    mask[starts[file] + row] = True
    con.register(MASK, pa.table({"_ls_at": arrow_bools(mask)}))
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT * EXCLUDE (_ls_at) FROM (SELECT {keys} FROM events) "
            f"POSITIONAL JOIN {MASK} WHERE _ls_at"
        )
    finally:
        con.unregister(MASK)
    picked, matched = con.execute(
        f"SELECT (SELECT count(*) FROM {into}), "
        f"(SELECT count(*) FROM {into} WHERE _ls_ord IN (SELECT _ls_ord FROM {wanted}))"
    ).fetchall()[0]
    if int(picked) == int(matched) == len(ords):
        return True
    con.execute(f"DROP TABLE {into}")
    return False
