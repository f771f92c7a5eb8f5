"""How the scoring query drops the copies the duplicate check listed (`<table>_drop`), and how it counts them.

The check (`duplicates.py`) lists the input orders of the copies that do not count; the query reads them
through two macros made here: `<table>_kept(o)`, whether the event of input order `o` counts (ranges of
input order where the copies form a few runs, else an anti-join), and `<table>_dropped(at)`, how many of
the copies are of time `at` or before (the run's figure of events scored, `sql.query`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadscore.batch.duckdb.id_files import ORD_FILE

if TYPE_CHECKING:
    import duckdb

# the most runs of consecutive input orders the copies to drop may form for the query to test ranges
# rather than anti-join them (`kept_macro`): the ranges are searched as a tree, about log2(runs)
# comparisons per event, so a thousand runs cost less than the anti-join's probe of every event
RUNS = 1024
# the most copies whose runs are looked for (a sort of them): 25M copies took 7-9 CPU s to sort into runs
RUN_ROWS = 1 << 20


def _within(runs: list[tuple[int, int]]) -> str:
    """Whether `o` lies in one of `runs` (sorted, disjoint ranges of input order): a binary search
    written as nested CASEs, so that an event meets about log2(len(runs)) comparisons, not one per run
    (DuckDB evaluates each branch on the rows that reach it alone)."""
    if len(runs) <= 2:
        return "(" + " OR ".join(f"o BETWEEN {lo} AND {hi}" if lo != hi else f"o = {lo}" for lo, hi in runs) + ")"
    mid = len(runs) // 2
    return f"(CASE WHEN o < {runs[mid][0]} THEN {_within(runs[:mid])} ELSE {_within(runs[mid:])} END)"


def kept_macro(con: duckdb.DuckDBPyConnection, table: str, files: list[str] | None = None) -> None:
    """The macro `<table>_kept(o)`: whether the event of input order `o` is no copy to drop.

    Copies delivered again come in runs of consecutive rows (a file sent again, rows appended): the
    mixed set's 50,054 copies to drop are one run, all the rows of its last file. Up to `RUNS` runs are
    tested as ranges, first against the ends, then by a binary search over them (`_within`), so most
    rows cost a few comparisons; the anti-join (`NOT IN` the drop table, a hash probe per event that
    carries every column of the event through the join) cost the scoring query 6-8 % more CPU on the
    mixed set, and 1.0-1.4 CPU s of 6 on the third data set, whose 9,995 copies form 144 runs (the
    file sent again, split by its id-less rows that are no copy, and the scattered repeats of ids
    from a pool): there the search costs what no check costs, within the noise.
    Past `RUNS` runs, the anti-join. One run is seen from the copies' count and ends; the runs of at
    most `RUN_ROWS` copies are found by a sort; more copies in several runs keep the anti-join.
    (A macro is expanded where the query names it: no call per row.)

    With it, the macro `<table>_dropped(at)` (`dropped_macro`): how many of those copies are of time `at`
    or before, `files` the Parquet files the view reads (None: it reads no such files)."""
    low, high, count = con.execute(f"SELECT min(_ls_ord), max(_ls_ord), count(*) FROM {table}_drop").fetchall()[0]
    runs: list[tuple[int, int]] = []
    if count and int(high) - int(low) + 1 == int(count):  # distinct input orders, as many as the range holds
        runs = [(int(low), int(high))]
    elif count and count <= RUN_ROWS:
        found = con.execute(
            f"SELECT min(o), max(o) FROM (SELECT _ls_ord AS o, _ls_ord - row_number() OVER (ORDER BY _ls_ord) "
            f"AS g FROM {table}_drop) GROUP BY g ORDER BY 1 LIMIT {RUNS + 1}"
        ).fetchall()
        runs = [(int(lo), int(hi)) for lo, hi in found]
    if not count:
        body = "TRUE"
    elif not runs or len(runs) > RUNS:
        body = f"o NOT IN (SELECT _ls_ord FROM {table}_drop)"
    else:
        body = f"(o < {runs[0][0]} OR o > {runs[-1][1]} OR NOT {_within(runs)})"
    con.execute(f"CREATE OR REPLACE TEMP MACRO {table}_kept(o) AS {body}")
    dropped_macro(con, table, body, int(count or 0), runs, files)


# the most runs of copies whose times are read from the row groups that hold them (`dropped_macro`)
TIME_RUNS = 64


def dropped_macro(
    con: duckdb.DuckDBPyConnection,
    table: str,
    kept: str,
    count: int,
    runs: list[tuple[int, int]],
    files: list[str] | None,
) -> None:
    """The macro `<table>_dropped(at)`: how many copies of `<table>_drop` are of time `at` (epoch µs) or before,
    so that the run counts the events it scores as those up to `at` less these (`sql.query`, the single pass).
    Counted over every event with `kept` (the body of `<table>_kept(o)`), that count cost 0.43 CPU s on the
    third data set's 10M events (the input order and the search of 144 runs per event) against 0.09 without.

    The copies' times are those the check read with their keys (`_ls_t`); those it did not read (the rows
    the ordered pass placed by their ids alone, `id_late.py`) are read, when the macro is used, from the
    row groups of their runs where they form at most `TIME_RUNS` runs in `files` (the mixed set's copies:
    one run, its last file), else the count is the scan of the events it was. Either way the same number."""
    if not count:
        con.execute(f"CREATE OR REPLACE TEMP MACRO {table}_dropped(_ls_at) AS 0")
        return
    known = f"(SELECT count(*) FROM {table}_drop WHERE _ls_t <= _ls_at)"
    unknown = int(con.execute(f"SELECT count(*) FROM {table}_drop WHERE _ls_t IS NULL").fetchall()[0][0])
    if not unknown:
        body = known
    elif files is not None and 0 < len(runs) <= TIME_RUNS:
        # read when the macro is used (a run whose pass counts its events needs none)
        spans = [in_file(files, lo, f"BETWEEN {lo % ORD_FILE} AND {hi % ORD_FILE}") for lo, hi in runs]
        parts = " UNION ALL ".join(f'SELECT _ls_ord, epoch_us("timestamp") AS _ls_t FROM ({span})' for span in spans)
        body = (
            f"({known} + (SELECT count(*) FROM ({parts}) WHERE _ls_t <= _ls_at AND _ls_ord IN "
            f"(SELECT _ls_ord FROM {table}_drop WHERE _ls_t IS NULL)))"
        )
    else:
        body = (
            f'(SELECT count(*) FROM (SELECT epoch_us("timestamp") AS _ls_t, _ls_ord AS o FROM events) '
            f"WHERE _ls_t <= _ls_at AND NOT {kept})"
        )
    con.execute(f"CREATE OR REPLACE TEMP MACRO {table}_dropped(_ls_at) AS {body}")


def in_file(files: list[str], first: int, rows: str) -> str:
    """The events view's relation of `files`, of the rows `rows` (a test of `file_row_number`) of the
    file holding input order `first`: conditions DuckDB's reader decides by row group."""
    from leadscore.batch.duckdb.sources import files_relation

    if len(files) == 1:
        return files_relation(files, f"file_row_number {rows}")
    return files_relation(files, f"file_index = {first // ORD_FILE} AND file_row_number {rows}")
