"""Which events repeat an id within their lead, found without a hash table over every event.

A DISTINCT or GROUP BY over tens of millions of ids is the slowest step DuckDB takes on this data
(about as long as the whole scoring query). A 64-bit hash of (lead, id) per event, sorted by DuckDB
(a parallel radix sort) and streamed back, finds the candidates by comparing neighbours; only ids
whose hash repeats are then checked exactly in SQL, so a hash collision costs a small extra pass,
never a wrong answer. (NumPy's sort of the same 50M hashes took 5.1 CPU s on one core, 17.5 s of
wall time on the shared machine; DuckDB's sort, fetch included, 8.1 CPU s in all against 12.1.)

The hash is of the event id alone: a repeat within a lead is a repeat of its id, and the exact check
groups by (lead, id), so an id shared by two leads is a candidate that check rules out. Reading and
hashing the lead ids as well cost a third of the check on events in time order (their lead ids
vary from row to row: 7.6 against 5.4 CPU s for 50M events, and 4.1 against 3.6 for the exact pass).
Where ids are shared by leads as a rule (a counter per lead), most rows would be candidates: past
`SHARED` of the rows, the check starts again with the hash of (lead, id), the previous cost.

Before any of that, one streamed pass over the ids (`id_order.py`) tries their order: ids that ascend
(files written in id order) repeat nothing except in the few rows no higher than an id before them
(events delivered again in a later file, ids from a small pool), and only the rows whose id those hold
are checked exactly, the events without id read by the same scan (their copies listed too:
`without_ids`).
On 50M events that pass cost 2.4-2.6 CPU s, the reader's checks of the ids included (3.9 for the
previous pass, which proved ascending ids with the checks in SQL; the whole check 3.3 -> 2.4 since the
pass reads Parquet ids from the files, `id_files.py`); on the mixed data's 50,054 repeats
in a later file, the pass and the exact check of the tail's rows 6.6 CPU s against 11.7 for the
sorted hashes. Ids in another order fill its tail within the first rows: it stops there, and the
hashes decide. Where the tail holds only ids of the input's last row groups (events delivered again at
the end), the pass itself finds every row holding a tail id, with its lead id (`id_late.py`): the exact
check then groups those rows alone, with no scan of the events (3.8-4.3 CPU s for the whole check on the
mixed data, from 5.8-8.0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from leadscore.batch.duckdb.dropped_copies import in_file, kept_macro
from leadscore.batch.duckdb.id_files import ORD_FILE
from leadscore.batch.duckdb.id_order import OrderedIds, Passed, ordered_ids
from leadscore.sql import literals as q

if TYPE_CHECKING:
    import duckdb
    import numpy as np

HASH = "hash(id)"
PAIR_HASH = "hash(lead_id, id)"
# the share of the rows that may repeat an id's hash (as copies of another row) before the check hashes
# (lead, id) instead: ids repeated across leads as a rule, not a few repeats to check exactly
SHARED = 0.01


@dataclass(frozen=True)
class DuplicateCheck:
    without_id: int  # events identified by content only (no id): the window, unless `contents_listed`
    repeated_ids: int  # (lead, id) pairs seen more than once
    table: str  # (lead_id, id, keep): the input order (`_ls_ord`) of the copy that counts
    # `<table>_drop` (_ls_ord): the copies that do not count, and the macro `<table>_kept(ord)` the
    # query drops them by (it then never reads the ids): a few ranges of input order, or an anti-join

    # the copies among the events without id (same lead and content) are listed in `<table>_drop` too:
    # the query then drops every copy by the macro, with no window of its own (`without_ids`)
    contents_listed: bool = False

    @property
    def needed(self) -> bool:
        return bool(self.without_id or self.repeated_ids)


def _repeated(batches: Iterable[np.ndarray]) -> np.ndarray:
    """Values present more than once in a sorted sequence, given as consecutive arrays (a repeat
    may straddle two of them)."""
    return _repeats(batches)[0]


def _repeats(batches: Iterable[np.ndarray]) -> tuple[np.ndarray, int]:
    """(the values present more than once in a sorted sequence given as consecutive arrays, how many
    elements equal the one before them: the copies beyond the first of each)."""
    import numpy as np

    found: list[np.ndarray] = []
    last: np.ndarray | None = None
    copies = 0
    for values in batches:
        if not len(values):
            continue
        found.append(values[1:][values[1:] == values[:-1]])
        copies += len(found[-1])
        if last is not None and last[0] == values[0]:
            found.append(values[:1])
            copies += 1
        last = values[-1:]
    return (np.unique(np.concatenate(found)) if found else np.empty(0, np.uint64)), copies


def _sorted_repeats(con: duckdb.DuckDBPyConnection, hashed: str) -> tuple[np.ndarray, int, int] | None:
    """(the hashes that repeat, how many events have an id, how many rows copy an earlier row's hash),
    the hashes sorted by DuckDB and streamed batch by batch (never all in Python's memory at once);
    None when some hash is NULL."""
    counted = 0
    seen_null = False

    def batches() -> Iterator[np.ndarray]:
        nonlocal counted, seen_null
        query = f"SELECT {hashed} AS h FROM events WHERE id IS NOT NULL ORDER BY h NULLS LAST"
        for batch in con.sql(query).to_arrow_reader(_BATCH):
            column = batch.column(0)
            if column.null_count:  # sorted last: the batches after this one are NULL too
                seen_null = True
                return
            counted += len(column)
            # a NULL-free uint64 array is a NumPy view, no copy
            yield column.to_numpy(zero_copy_only=False)

    candidates, copies = _repeats(batches())
    return None if seen_null else (candidates, counted, copies)


_BATCH = 1 << 20
SAMPLE_ROWS = 65_536
# the ids after the first ascending stretch the ordered pass may collect (`id_order.py`): past the
# larger of this and `SHARED` of the rows, the ids are in another order and the hashes decide
TAIL_ROWS = 65_536
ORDERED = True  # whether the ordered pass runs first (tests turn it off to reach the sorted hashes)


def tail_limit(total: int) -> int:
    """The ids the ordered pass may collect after its first ascending stretch, of `total` events."""
    return max(int(SHARED * total), TAIL_ROWS)


def _shared_ids(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the first rows of the events already repeat ids past `SHARED` (ids shared by leads as a
    rule, or many repeats): the check then hashes (lead, id) from the start instead of after a pass.
    A sample, not a guarantee: either answer finds the same repeats."""
    row = con.execute(
        f"SELECT count(id), count(DISTINCT id) FROM (SELECT id FROM events LIMIT {SAMPLE_ROWS})"
    ).fetchall()
    ids, distinct = (int(row[0][0] or 0), int(row[0][1] or 0)) if row else (0, 0)
    return ids - distinct > SHARED * max(ids, 1)


def find_duplicates(
    con: duckdb.DuckDBPyConnection,
    table: str = "_ls_dups",
    id_check: str | None = None,
    check_files: Callable[[], None] | None = None,
    files: list[str] | None = None,
    first: Passed | Literal["not run"] = "not run",
    content: list[str] | None = None,
) -> DuplicateCheck:
    """Create `table` with the repeated (lead, id) pairs of the `events` view and the copy to keep
    (the first in input order), and count the events without id.

    `id_check` (a BOOLEAN over an event's id: `file_checks.row_check_sql`) rides on the pass that
    reads every id (`id_order.flagged` stands for it there): where it may hold, `check_files` runs,
    which refuses the input or has the views strip (it raises); the ids are read once, here.
    `files`: the Parquet files the view reads, given only when it reads their ids as stored (its
    `id` is the column itself, an empty text as NULL): the ordered pass may read them directly.
    `first`: that pass's answer, run ahead on a thread (`id_ahead.py`) with the same limit and test.
    `content`: the columns beyond its type and time that identify an event without id, as the query's
    window has them: given, those events' copies are listed in `<table>_drop` as well (`without_ids`)."""
    import pyarrow as pa

    total = int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])  # from file metadata
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (lead_id VARCHAR, id VARCHAR, keep BIGINT)")
    # with each copy's time where the check read it (`_ls_t`, epoch µs; NULL: not read): `dropped_copies`
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table}_drop (_ls_ord BIGINT, _ls_t BIGINT)")
    checked: list[bool] = []

    def check() -> None:
        checked.append(True)
        if check_files is not None:
            check_files()

    ordered = None
    listed = False  # the copies without id listed on the way
    limit = tail_limit(total)
    if ORDERED:
        ordered = ordered_ids(con, limit, check if id_check is not None else None, files, first)
    if ordered is not None:
        if len(ordered.tail) and ordered.rows is not None:
            # the pass found every row holding a tail id (`id_late.py`): those rows alone, by input order
            con.register("_ls_dup_cand", ordered.rows)
            if "lead_id" in ordered.rows.column_names:  # their lead ids too, read while the pass ran
                _exact(con, table, rows="SELECT lead_id, id, _ls_ord, NULL::BIGINT AS _ls_t FROM _ls_dup_cand")
            else:  # their ids are known: the scan reads the lead ids alone (1.9 against 2.9 CPU s with the ids)
                _exact(
                    con,
                    table,
                    rows="SELECT e.lead_id, c.id, c._ls_ord, NULL::BIGINT AS _ls_t FROM (SELECT lead_id, _ls_ord "
                    "FROM events WHERE _ls_ord "
                    "IN (SELECT _ls_ord FROM _ls_dup_cand)) AS e JOIN _ls_dup_cand AS c ON c._ls_ord = e._ls_ord",
                )
            con.unregister("_ls_dup_cand")
        elif len(ordered.tail) and _around(con, table, ordered, total, content, files):
            content = None  # listed
            listed = True
        elif len(ordered.tail):
            # the rows whose id the tail holds: the only ones that can repeat an id (`id_order.py`)
            con.register("_ls_dup_tail", pa.table({"id": ordered.tail}))
            without = total - ordered.with_id
            if content is not None and without and without <= limit:
                # the events without id read by the same scan, by their keys only (`without_ids`)
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _ls_dup_src AS SELECT {KEYS} FROM events "
                    "WHERE id IS NULL OR id IN (SELECT id FROM _ls_dup_tail)"
                )
                _exact(con, table, rows="SELECT lead_id, id, _ls_ord, _ls_t FROM _ls_dup_src WHERE id IS NOT NULL")
                without_ids(con, table, content, "_ls_dup_src", files)
                con.execute("DROP TABLE _ls_dup_src")
                content = None  # listed
                listed = True
            else:
                _exact(con, table, "id IN (SELECT id FROM _ls_dup_tail)")
            con.unregister("_ls_dup_tail")
        return _counted(con, table, total - ordered.with_id, content, listed, files)
    if checked:  # the first rows' ids were flagged and `check_files` found nothing to refuse or strip
        id_check = None
    # ids shared by leads already in the first rows (a counter per lead): (lead, id) from the start
    hashed = PAIR_HASH if _shared_ids(con) else HASH
    checked_hash = hashed if id_check is None else f"CASE WHEN {id_check} THEN NULL ELSE {hashed} END"
    found = _sorted_repeats(con, checked_hash)
    if found is None:  # a row met `id_check` (its hash is NULL, sorted last)
        if check_files is not None:
            check_files()
        # the check found nothing to refuse or strip: the hashes of those rows too
        found = _sorted_repeats(con, hashed)
        assert found is not None  # a hash is never NULL
    if hashed == HASH and found[2] > SHARED * max(found[1], 1):
        # ids shared by leads as a rule: candidates by (lead, id), or the exact pass would read most rows
        # (the ids were checked by the first pass: `check_files` ran if one had to be)
        hashed = PAIR_HASH
        found = _sorted_repeats(con, PAIR_HASH)
        assert found is not None
    candidates, with_id, _ = found
    if len(candidates):
        # one more pass over the events: the rows whose hash repeats (a few per thousand), checked exactly
        con.register("_ls_dup_hashes", pa.table({"h": pa.array(candidates, pa.uint64())}))
        _exact(con, table, f"id IS NOT NULL AND {hashed} IN (SELECT h FROM _ls_dup_hashes)")
        con.unregister("_ls_dup_hashes")
    return _counted(con, table, total - with_id, content, files=files)


def _around(
    con: duckdb.DuckDBPyConnection,
    table: str,
    ordered: OrderedIds,
    total: int,
    content: list[str] | None,
    files: list[str] | None,
) -> bool:
    """The exact check and the copies without id from the rows the pass placed by their input order
    (`id_late.LateIds.around`), when it did and `content` asks for those copies: the tail's rows it
    recorded, the stretch's copies of the tail ids no late one (looked for in the row groups of the
    batches that may hold them, at most one each), and the events without id. One scan of the events
    by input order then reads their keys without reading the ids again: on the third data set's 10M
    events 0.60 CPU s against 0.95 for the scan that selects them by id (the ids read and probed
    against the tail's), and 0.46-0.48 since those rows are picked by their position in the files
    rather than by a hash join on `_ls_ord` (`id_positions.py`; the join where the files' row counts
    do not place them). Whether it ran (else the scan by id decides, `find_duplicates`)."""
    import pyarrow as pa

    from leadscore.batch.duckdb.arrays import arrow_int64
    from leadscore.batch.duckdb.id_positions import keys_by_position

    found = ordered.around
    if found is None or content is None or files is None or len(found.missing) != total - ordered.with_id:
        return False
    con.register("_ls_dup_cand", found.rows)
    con.register("_ls_dup_gone", pa.table({"_ls_ord": arrow_int64(found.missing)}))
    rows = "SELECT _ls_ord, id FROM _ls_dup_cand"
    if len(found.strays):
        con.register("_ls_dup_stray", pa.table({"id": found.strays.cast(pa.string())}))
        for low, high in found.spans:
            relation = in_file(files, low, f"BETWEEN {low % ORD_FILE} AND {high % ORD_FILE}")
            rows += f" UNION SELECT _ls_ord, id FROM ({relation}) WHERE id IN (SELECT id FROM _ls_dup_stray)"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _ls_dup_ords AS {rows} UNION ALL SELECT _ls_ord, NULL FROM _ls_dup_gone"
    )
    if keys_by_position(con, files, "_ls_dup_ords", "_ls_dup_at", PLACED_KEYS):
        # their keys picked by position (`id_positions.py`), their ids known
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _ls_dup_src AS SELECT k.lead_id, o.id, k.type, k._ls_t, k._ls_ord "
            "FROM _ls_dup_at AS k JOIN _ls_dup_ords AS o ON o._ls_ord = k._ls_ord"
        )
        con.execute("DROP TABLE _ls_dup_at")
    else:
        con.execute(
            'CREATE OR REPLACE TEMP TABLE _ls_dup_src AS SELECT e.lead_id, o.id, e.type, epoch_us(e."timestamp") AS '
            "_ls_t, e._ls_ord FROM events AS e JOIN _ls_dup_ords AS o ON o._ls_ord = e._ls_ord"
        )
    _exact(con, table, rows="SELECT lead_id, id, _ls_ord, _ls_t FROM _ls_dup_src WHERE id IS NOT NULL")
    without_ids(con, table, content, "_ls_dup_src", files)
    for name in ("_ls_dup_src", "_ls_dup_ords"):
        con.execute(f"DROP TABLE {name}")
    for name in ("_ls_dup_cand", "_ls_dup_gone", *(("_ls_dup_stray",) if len(found.strays) else ())):
        con.unregister(name)
    return True


def _exact(con: duckdb.DuckDBPyConnection, table: str, candidates: str = "", rows: str = "") -> None:
    """The repeated (lead, id) pairs among the events meeting `candidates` (a condition that holds for
    every copy of a repeat), or among `rows` (a query of those events' lead_id, id, _ls_ord and _ls_t, their
    time where known), with the copy to keep into `table` and the others into `<table>_drop`."""
    rows = rows or f'SELECT lead_id, id, _ls_ord, epoch_us("timestamp") AS _ls_t FROM events WHERE {candidates}'
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_dup_rows AS {rows}")
    con.execute(
        f"INSERT INTO {table} SELECT lead_id, id, min(_ls_ord) FROM _ls_dup_rows "
        "GROUP BY lead_id, id HAVING count(*) > 1"
    )
    con.execute(
        f"INSERT INTO {table}_drop SELECT r._ls_ord, r._ls_t FROM _ls_dup_rows AS r JOIN {table} AS d "
        "ON d.lead_id = r.lead_id AND d.id = r.id AND r._ls_ord <> d.keep"
    )
    con.execute("DROP TABLE _ls_dup_rows")


# what the scan of the events without id keeps of them (and of the rows of the tail's ids): their keys
KEYS = 'lead_id, id, type, epoch_us("timestamp") AS _ls_t, _ls_ord'
# the same but the id, for the rows placed by the ordered pass (their ids known: `_around`)
PLACED_KEYS = 'lead_id, type, epoch_us("timestamp") AS _ls_t, _ls_ord'
# the most events without id whose other columns are read by their input order, the row groups that hold
# them alone (`_picked`); past it, one scan of the events reads them (DuckDB's reader then decodes every
# row group: 2,000 rows in 6 files cost 0.9 CPU s, 40 rows 0.2-0.3)
PICK_ROWS = 1024


def without_ids(
    con: duckdb.DuckDBPyConnection,
    table: str,
    content: list[str],
    source: str = "events",
    files: list[str] | None = None,
) -> None:
    """The copies among the events without id into `<table>_drop`: every event of a (lead, type, time,
    `content`) group but the first in input order, as the query's window over those events keeps them
    (`sql.query.event_ctes`). Listed here, the query drops them with the repeated ids by the macro: one
    pass over the events with the files' checks on the way (`sql.query` `single`).

    Two such events share their lead, type and time first: those keys alone are read for every event
    without id (`source`: a table of their `KEYS`, or the events), and the other columns only for the
    events whose keys another one shares (the third data set: 17 groups among 50,000 such events),
    read by their input order from the row groups that hold them where the view reads `files`
    (`_picked`). Reading every column of those 50,000 events cost 1.4 CPU s on its 10M events, every
    page of every column decoded whatever the filter."""
    keys = source
    if source == "events":
        keys = "_ls_dup_keys"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {keys} AS SELECT {KEYS} FROM events WHERE id IS NULL")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ls_dup_same AS SELECT _ls_ord, lead_id, type, _ls_t FROM (SELECT _ls_ord, "
        "lead_id, type, _ls_t, count(*) OVER (PARTITION BY lead_id, type, _ls_t) AS _ls_n FROM "
        f"{keys} WHERE id IS NULL) WHERE _ls_n > 1"
    )
    if keys != source:
        con.execute(f"DROP TABLE {keys}")
    same = int(con.execute("SELECT count(*) FROM _ls_dup_same").fetchall()[0][0])
    if same:
        cols = [q.ident(c) for c in content]
        body = "_ls_dup_same"
        if cols:
            picked = _picked(con, files, "_ls_dup_same") if files is not None and same <= PICK_ROWS else None
            rows = picked or "SELECT * FROM events WHERE _ls_ord IN (SELECT _ls_ord FROM _ls_dup_same)"
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _ls_dup_body AS SELECT s.*, {', '.join(f'r.{c}' for c in cols)} "
                f"FROM _ls_dup_same AS s JOIN ({rows}) AS r ON r._ls_ord = s._ls_ord"
            )
            body = "_ls_dup_body"
        group = ", ".join(["lead_id", "type", "_ls_t", *cols])
        con.execute(
            f"INSERT INTO {table}_drop SELECT _ls_ord, _ls_t FROM (SELECT _ls_ord, _ls_t, row_number() OVER "
            f"(PARTITION BY {group} ORDER BY _ls_ord) AS _ls_rn FROM {body}) WHERE _ls_rn > 1"
        )
        if body != "_ls_dup_same":
            con.execute(f"DROP TABLE {body}")
    con.execute("DROP TABLE _ls_dup_same")


def _picked(con: duckdb.DuckDBPyConnection, files: list[str], ords: str) -> str | None:
    """A query of the events of the table `ords` (by `_ls_ord`) from the files, as the view reads
    them, one part per file naming its rows: DuckDB's reader then decodes only the row groups that
    hold them (an OR of the files' conditions, or a condition on `_ls_ord`, decodes them all)."""
    found = con.execute(f"SELECT _ls_ord FROM {ords} ORDER BY 1").fetchall()
    by_file: dict[int, list[int]] = {}
    for (o,) in found:
        by_file.setdefault(int(o) // ORD_FILE if len(files) > 1 else 0, []).append(int(o) % ORD_FILE)
    if any(k >= len(files) for k in by_file):
        return None
    parts = [in_file(files, k * ORD_FILE, f"IN ({', '.join(map(str, rows))})") for k, rows in by_file.items()]
    return " UNION ALL ".join(f"({p})" for p in parts)


def _counted(
    con: duckdb.DuckDBPyConnection,
    table: str,
    without_id: int,
    content: list[str] | None = None,
    listed: bool = False,
    files: list[str] | None = None,
) -> DuplicateCheck:
    """The check's answer, the copies without id listed first where `content` is given (`listed`:
    they already are)."""
    if content is not None:
        if without_id:
            without_ids(con, table, content, files=files)
        listed = True
    kept_macro(con, table, files)
    row = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
    return DuplicateCheck(without_id=int(without_id), repeated_ids=int(row[0]), table=table, contents_listed=listed)
