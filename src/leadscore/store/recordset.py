"""Many rows of a table in one INSERT on PostgreSQL, from one JSON array parameter.

`insert_many` (leadscore.store.results_repo) writes a drain's results, bases, score and stage
history; psycopg's executemany sends a Bind and an Execute per row in pipeline mode and dumps each
row's parameters in Python. Here the rows are one C-encoded JSON text and one statement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

# psycopg's executemany sends a Bind and an Execute per row in pipeline mode, and dumps each row's
# parameters in Python: 13-18 µs of this process's CPU a row of a 200-row drain's writes (results,
# basis, score and stage history), 2.5-6 µs so (results 26-31 -> 18-22: most of a result row is its
# JSON). `json_to_recordset` reads the array in its order, the order a serial id numbers the rows in,
# as row by row; a JSON column's value is the text of its value in the array, unparsed (json, not
# jsonb), so the same text as `driver_params` binds: `json_text` and this encoder differ only in NaN.
_RECORDSET: dict[tuple[str, str, tuple[str, ...]], str] = {}
_strict_json = json.JSONEncoder(allow_nan=False).encode  # a NaN or an infinity: the executemany


# the type a column's value is read as from the array (the first that fits: a BigInteger is an
# Integer): strings as text, so that the INSERT's own assignment checks a length as for a parameter
_TYPES: tuple[tuple[type[Any], str], ...] = (
    (sa.JSON, "json"),
    (sa.String, "text"),
    (sa.Float, "float8"),
    (sa.BigInteger, "bigint"),
    (sa.Integer, "integer"),
    (sa.Boolean, "boolean"),
)


def _recordset_type(column: sa.Column[Any]) -> str:
    for kind, name in _TYPES:
        if isinstance(column.type, kind):
            return name
    raise TypeError(f"no JSON recordset type for {column.name}: {column.type}")


def recordset_insert(table: sa.Table, conflict: str, names: list[str]) -> str:
    """PostgreSQL: `insert_many`'s INSERT of the columns `names` from one JSON array of objects
    (`recordset_param`), in array order. A JSON column's null comes out of the array as SQL NULL:
    stored as JSON null, as SQLAlchemy's JSON type binds None."""
    key = (table.name, conflict, tuple(names))
    found = _RECORDSET.get(key)
    if found is None:
        json_cols = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
        read = ", ".join(f"coalesce(v.{n}, CAST('null' AS json))" if n in json_cols else f"v.{n}" for n in names)
        shape = ", ".join(f"{n} {_recordset_type(table.columns[n])}" for n in names)
        found = _RECORDSET[key] = (
            f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {read} "
            f"FROM json_to_recordset(CAST(%s AS json)) AS v ({shape}){conflict}"
        )
    return found


def recordset_param(rows: Sequence[Mapping[str, Any]], names: list[str], upsert: bool) -> str | None:
    """`recordset_insert`'s parameter: the rows as one JSON array. None where one statement cannot do
    what the executemany does: a value JSON cannot carry (a NaN, an infinity, an object no JSON
    encodes), or an upsert given one lead twice (a statement may not update a row twice)."""
    if upsert and len({r.get("lead_id") for r in rows}) != len(rows):
        return None
    wanted = set(names)
    try:
        return _strict_json([r if r.keys() == wanted else {n: r[n] for n in names} for r in rows])
    except (TypeError, ValueError):
        return None
