"""The batch engine's door for numbers: the inputs' values that a model reads must be accepted
numbers (`domain.numbers`: finite, within +-2**53), as the store's readers require of every value.

Parquet and in-memory tables keep their types, so a NaN, an infinity or a value beyond the range
can sit in a numeric column; CSV cells out of the range stay text (`csv_typed`, as the io reader
does). One scan over the numeric columns the model reads finds the first offending row of each,
and the run is refused naming the file, the row and the column, before anything is written. For the
events' Parquet files whose rows the scoring pass checks (`query.build_query`, `row_check`), the test
rides on that pass (`events_sql`), and the scan runs only when some row failed it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.batch.duckdb.file_schemas import INTEGER_TYPES, column_types, list_files
from leadscore.batch.duckdb.sources import Source, SourceError
from leadscore.domain.numbers import MAX_MAGNITUDE, RANGE_TEXT
from leadscore.model.spec import ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.columns import SourceSchema, TableSchema

if TYPE_CHECKING:
    import duckdb

FILE_STRIDE = 1099511627776  # sources._file_relation: file index * 2**40 + row number in the file


def _where(source: Source, ord_: int) -> str:
    if not isinstance(source, str | Path):
        return f"row {ord_ + 1}"
    path = Path(source)
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return f"{path}:{ord_ + 2}"  # the header is line 1
    if path.is_dir():
        files = list_files(path)
        # DuckDB's file_index counts from 0, in the order the files were listed
        index, row = divmod(ord_, FILE_STRIDE) if len(files) > 1 else (0, ord_)
        return f"{files[index]}: row {row + 1}"
    return f"{path}: row {ord_ + 1}"


def _numeric(table: TableSchema, names: set[str]) -> list[str]:
    return [s.column for name, slots in table.slots.items() if name in names for s in slots if s.kind == "num"]


_FLOATS = frozenset({"FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8"})


def _outside(column: str, sql_type: str | None) -> str:
    """A value of `column` (of DuckDB type `sql_type`, None: unknown) that is not an accepted number
    (NULL for a missing one)."""
    if sql_type in INTEGER_TYPES:
        # compared as integers: exact (as a double, 2**53 + 1 was 2**53 and passed), and decided by the
        # files' minimum and maximum where they lie inside, instead of a cast and a test per row
        return f"NOT ({q.ident(column)} BETWEEN {-MAX_MAGNITUDE} AND {MAX_MAGNITUDE})"
    limit = float(MAX_MAGNITUDE)
    value = f"CAST({q.ident(column)} AS DOUBLE)"
    if sql_type is None or sql_type in _FLOATS:
        # DuckDB decides a comparison from a Parquet file's minimum and maximum where it can, and writers
        # compute those leaving NaN out (pyarrow): a range test of the column itself is then FALSE on
        # every row, and a NaN passed the check to be scored as a number above any. The CASE hides the
        # statistics from the optimizer (isnan() or nullif() cost 0.07-0.16 CPU s more per 20M values,
        # this form nothing measurable); NaN and the infinities fail `<=` as values beyond the range do
        return f"NOT (abs(CASE WHEN {value} IS NULL THEN NULL ELSE {value} END) <= {limit!r})"
    # NaN sorts above every number in DuckDB, so it fails BETWEEN like the infinities do
    return f"NOT ({value} BETWEEN {-limit!r} AND {limit!r})"


def events_sql(con: duckdb.DuckDBPyConnection, model: ScoringModel, schema: SourceSchema) -> str | None:
    """A BOOLEAN over an event row: one of the numbers the model reads is not accepted (None: the model
    reads no number of the events). The scoring query's single pass computes it with the files' row
    check (`query.build_query`), instead of a scan of its own before the query."""
    from leadscore.sql.dialects import infer_schema

    cols = _numeric(schema.events, set(infer_schema(model).events.slots))
    if not cols:
        return None
    types = column_types(con, "events")
    return q.any_of([f"({_outside(c, types.get(c))})" for c in cols])


def _first_bad(
    con: duckdb.DuckDBPyConnection, view: str, table: TableSchema, names: set[str]
) -> tuple[str, int] | None:
    cols = _numeric(table, names)
    if not cols:
        return None
    types = column_types(con, view)
    found = ", ".join(f"min(_ls_ord) FILTER (WHERE {_outside(c, types.get(c))})" for c in cols)
    rows = con.execute(f"SELECT {found} FROM {view}").fetchall()  # fetched whole: the connection is reused
    row = rows[0] if rows else None
    hits = [(c, int(o)) for c, o in zip(cols, row or (), strict=True) if o is not None]
    return min(hits, key=lambda h: h[1]) if hits else None


def check_numbers(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    schema: SourceSchema,
    leads: Source,
    events: Source,
    views: tuple[str, ...] = ("leads", "events"),
) -> None:
    """Raise SourceError at the first value the model reads that is not an accepted number (in the
    given `views`)."""
    from leadscore.sql.dialects import infer_schema

    reads = infer_schema(model)
    for view, table, wanted, source in (
        ("leads", schema.leads, set(reads.leads.slots), leads),
        ("events", schema.events, set(reads.events.slots), events),
    ):
        if view not in views:
            continue
        bad = _first_bad(con, view, table, wanted)
        if bad is not None:
            column, ord_ = bad
            value = con.execute(
                f"SELECT CAST({q.ident(column)} AS VARCHAR) FROM {view} WHERE _ls_ord = {ord_}"
            ).fetchall()
            shown = value[0][0] if value else "?"
            raise SourceError(
                f"{_where(source, ord_)}: {column.split('::')[0]}: {shown} is not accepted: numbers must be finite "
                f"and lie {RANGE_TEXT}"
            )


def check_spark_numbers(spark: Any, model: ScoringModel, schema: SourceSchema, leads: Path, files: list[str]) -> None:
    """`check_numbers` for `--engine spark`, over the registered views `leads` and `events`: events are
    named by file and row (`_ls_ord`: file rank * 2**40 + row index), leads by their id."""
    from pyspark.sql import functions as F

    from leadscore.sql.dialects import infer_schema

    reads = infer_schema(model)
    limit = float(MAX_MAGNITUDE)
    for view, table, wanted, key in (
        ("leads", schema.leads, set(reads.leads.slots), "id"),
        ("events", schema.events, set(reads.events.slots), "_ls_ord"),
    ):
        cols = [s.column for name, slots in table.slots.items() if name in wanted for s in slots if s.kind == "num"]
        if not cols:
            continue
        # NaN sorts above every number in Spark too, so it fails `between` like the infinities
        bad = [~F.col(f"`{c}`").cast("double").between(-limit, limit) for c in cols]
        row = spark.table(view).agg(*[F.min(F.when(b, F.col(key))) for b in bad]).collect()[0]
        hits = [(c, v) for c, v in zip(cols, row, strict=True) if v is not None]
        if not hits:
            continue
        column, where = min(hits, key=lambda h: h[1])
        if view == "events":
            rank, index = divmod(int(where), FILE_STRIDE)
            place = f"{files[rank - 1]}: row {index + 1}"
        else:
            place = f"{leads}: lead {where!r}"
        first = spark.table(view).filter(F.col(key) == where).select(F.col(f"`{column}`").cast("string")).first()
        shown = first[0] if first is not None else "?"
        raise SourceError(f"{place}: {column}: {shown} is not accepted: numbers must be finite and lie {RANGE_TEXT}")
