"""Several Parquet files read as one input: which files, and the columns they make together.

`leadscore.io` reads a directory's .parquet files (not its sub-directories) in name order, each file
with its own columns: a column that only some files have is missing (absent) in the others' rows.
The batch engines must see the same rows, so:

- the files are listed by `leadscore.io.formats.parquet_files`, the reader's own listing;
- DuckDB reads them by column name (`union_by_name`): without it, it takes the first file's columns
  and drops the others' (a property only later files have would be NULL in every row, and its rows
  unchecked), or fails casting a later file's column to the first file's type;
- a column whose files store it as different kinds of value (text in one, a number in another, a
  timestamp with and without a time zone...) is one common type in DuckDB and Spark, so a 5 would
  become '5' there while the reader keeps each value as stored (`differing_types`). DuckDB's engine
  then has the reader read the files (`file_checks.needs_reader`); Spark refuses them, naming the
  files and the column. Integers of different widths, and FLOAT with DOUBLE, widen without changing
  any value, and are read as one column.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from leadscore.io.formats import parquet_files
from leadscore.sql import literals as q

if TYPE_CHECKING:
    import duckdb

INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


def list_files(path: Path) -> list[str]:
    """The Parquet files of a path (a file, or a directory's .parquet files in name order), as the
    reader lists them; an empty list for a directory without any."""
    return [str(p) for p in parquet_files(path)]


def scan_sql(files: list[str], *options: str) -> str:
    """`read_parquet` over the files, their columns joined by name (one file: as it is)."""
    listed = "[" + ", ".join(q.text(f) for f in files) + "]"
    opts = [*options, "union_by_name = true"] if len(files) > 1 else list(options)
    return f"read_parquet({', '.join([listed, *opts])})"


def column_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    """DuckDB's type of each column of `relation` (a view, a table or a scan), upper case."""
    return {str(r[0]): str(r[1]).upper() for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def _family(typ: str) -> str:
    """Types whose values DuckDB's union of the files keeps as they are, as one name."""
    upper = typ.upper()
    if upper in INTEGER_TYPES:
        return "integer"
    if upper in ("FLOAT", "DOUBLE"):
        return "floating"
    return upper


def differing_types(con: duckdb.DuckDBPyConnection, files: list[str]) -> tuple[str, str, str, str, str] | None:
    """The first column two files store as different kinds of value: (column, file, its type, other
    file, its type), or None. One metadata query groups the files by their Parquet schema; one
    DESCRIBE per distinct schema gives DuckDB's types (usually one or two)."""
    if len(files) < 2:
        return None
    listed = "[" + ", ".join(q.text(f) for f in files) + "]"
    rows = con.execute(
        f"SELECT file_name, string_agg(concat_ws('|', name, type, converted_type, logical_type), ',' ORDER BY name) "
        f"FROM parquet_schema({listed}) GROUP BY file_name"
    ).fetchall()
    order = {f: i for i, f in enumerate(files)}
    first_of: dict[str, str] = {}
    for file, signature in sorted(rows, key=lambda r: order.get(str(r[0]), 0)):
        first_of.setdefault(str(signature), str(file))
    seen: dict[str, tuple[str, str]] = {}  # column -> (file, DuckDB type)
    for file in first_of.values():
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({q.text(file)})").fetchall()
        for name, typ, *_ in described:
            col, kind = str(name), str(typ)
            if col not in seen:
                seen[col] = (file, kind)
            elif _family(seen[col][1]) != _family(kind):
                return col, seen[col][0], seen[col][1], file, kind
    return None


def differing_message(found: tuple[str, str, str, str, str]) -> str:
    col, file_a, type_a, file_b, type_b = found
    return f"column {col!r} is {type_a} in {file_a} but {type_b} in {file_b}"
