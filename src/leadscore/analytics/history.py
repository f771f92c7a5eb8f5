"""The stage history a report reads: the moves of the leads its filters keep, up to the period's end.

Every report that follows leads through the lifecycle (the funnel, its velocity, the cohort facts of
channels and score quality) starts from these rows, so they are defined once here (`stage_moves`).

The funnel then asks window functions and distinct counts of them. A database that runs those row by
row on one core (SQLite) spends seconds per million moves on them, so `run_report` reads the rows once
into Arrow (through the store's bulk reader: ADBC readers on SQLite; on PostgreSQL the ADBC driver,
`postgres_arrow`, or COPY) and counts them with array operations (`funnel_arrays`). The statements
can also run in DuckDB, over a table of the same name and columns (`ArrowHistory`), or in the store
itself (`StoreHistory`): the same answers, the references the tests compare with. Channels and score
quality run their statements in DuckDB with a few more tables added (`ArrowHistory.add`), read with
`read_select` (a large table) or `read_rows` (a few rows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from leadscore.analytics.common import ReportFilter
from leadscore.store.tables import stage_history

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from leadscore.store.base import LeadStore

COLUMNS: tuple[tuple[str, Any], ...] = (
    ("lead_id", sa.String),
    ("at", sa.BigInteger),
    ("id", sa.BigInteger),
    ("to_stage", sa.String),
    ("from_stage", sa.String),
    ("cause", sa.String),
)


def stage_moves(f: ReportFilter) -> sa.Select[Any]:
    """The moves of the filtered leads before the period's end, with the columns the reports read."""
    sh = stage_history.c
    return sa.select(*(sh[name] for name, _ in COLUMNS)).where(sh.at < f.end_us, f.lead_condition(sh.lead_id))


class History(Protocol):
    """Where a report's statements over the moves run: `source` is the moves as a FROM clause."""

    source: sa.FromClause

    def rows(self, statement: sa.Select[Any] | sa.CompoundSelect[Any]) -> list[tuple[Any, ...]]: ...


class StoreHistory:
    """The statements run in the store, over `stage_moves` as a subquery (which the database inlines,
    so its indexes still serve)."""

    def __init__(self, conn: sa.Connection, f: ReportFilter) -> None:
        self.conn = conn
        self.source: sa.FromClause = stage_moves(f).subquery("history")

    def rows(self, statement: sa.Select[Any] | sa.CompoundSelect[Any]) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(statement)]


class ArrowHistory:
    """The statements run in DuckDB over the moves read into Arrow.

    They are compiled with PostgreSQL's dialect (whose SQL DuckDB speaks) with their values inlined;
    DuckDB is told to divide integers as both stores do (`integer_division`). `lead_id` stays text:
    numbering the leads first (Arrow's dictionary encoding) costs more than DuckDB saves by
    partitioning numbers instead of short strings (0.5 s against 0.25 s at 1.85M moves)."""

    def __init__(self, table: pa.Table) -> None:
        import duckdb

        self.table = table
        self.tables: dict[str, pa.Table] = {}
        self.con: duckdb.DuckDBPyConnection = duckdb.connect()
        self.con.execute("SET integer_division = true")
        self.con.register("history", self.table)
        self.source: sa.FromClause = sa.table("history", *(sa.column(name, kind()) for name, kind in COLUMNS))

    def add(self, name: str, table: pa.Table) -> None:
        """Another table the statements may read (kept referenced as long as the connection)."""
        self.tables[name] = table
        self.con.register(name, table)

    def rows(self, statement: sa.Select[Any] | sa.CompoundSelect[Any]) -> list[tuple[Any, ...]]:
        sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        return [tuple(r) for r in self.con.execute(sql).fetchall()]

    def close(self) -> None:
        self.con.close()


def arrow_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(name, pa.int64() if kind is sa.BigInteger else pa.string()) for name, kind in COLUMNS])


def read_moves(
    store: LeadStore, conn: sa.Connection, f: ReportFilter, split: int | None = None, ordered: bool = False
) -> pa.Table:
    """`stage_moves(f)` read from the store into Arrow. `ordered`: in (lead, at, id) order where the
    store gives it for free (PostgreSQL scans its covering index `ix_stage_history_lead_at` in that
    order; SQLite's two readers split the rows by id, so there the order is whatever they give)."""
    order = "lead_id, at, id" if ordered else None
    return read_select(store, conn, stage_moves(f), "stage_history", "id", arrow_schema(), split, order)


def read_select(
    store: LeadStore,
    conn: sa.Connection,
    statement: sa.Select[Any],
    table: str,
    rowid: str,
    schema: pa.Schema,
    split: int | None = None,
    order: str | None = None,
) -> pa.Table:
    """The rows of `statement` (a SELECT of one `table` with a WHERE clause, whose column `rowid`
    splits the table between the SQLite readers) read from the store into Arrow, as `schema`.

    The statement is sent as text (the bulk readers take no parameters), its values inlined by the
    store's own dialect, which quotes them; it is written on one line as `SELECT ... FROM table
    WHERE ...`, the form the readers add their rowid range to. PostgreSQL's rows are read by the ADBC
    driver when it is installed (`postgres_arrow`), in `order` (an ORDER BY list) if given.
    """
    from leadscore.analytics import postgres_arrow
    from leadscore.bulk.export import query_table

    def text(clause: sa.ClauseElement) -> str:
        return str(clause.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))

    where = statement.whereclause
    assert where is not None, "the readers add their range to the statement's WHERE clause"
    exprs = [c.element if isinstance(c, sa.Label) else c for c in statement.selected_columns]
    columns = ", ".join(f"{text(e)} AS {name}" for e, name in zip(exprs, schema.names, strict=True))
    sql = f"SELECT {columns} FROM {table} WHERE {text(where)}"
    if conn.dialect.name == "postgresql" and postgres_arrow.available():
        return postgres_arrow.read_postgres(store.engine.url, sql + (f" ORDER BY {order}" if order else ""), schema)
    return query_table(store, sql, table, rowid, schema, split)


def read_rows(conn: sa.Connection, statement: sa.Select[Any], schema: pa.Schema) -> pa.Table:
    """A statement of few rows run in the store, into Arrow."""
    import pyarrow as pa

    rows = conn.execute(statement).all()
    return pa.table([pa.array([r[i] for r in rows], f.type) for i, f in enumerate(schema)], schema=schema)
