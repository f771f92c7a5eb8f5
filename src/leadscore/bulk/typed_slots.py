"""The typed slots: a property's JSON value split into `key::num`, `key::str` and `key::bool` (one key can
hold a number in one event and text in another), by DuckDB over a batch of raw rows, for the store's export
(`export.py`) and the spill's parts (`export_spill.py`). A value no slot holds exactly (nested, or an
integer past 2**53) raises `Unsupported`: the pure scorer reads such a lead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from leadscore.sql import literals as q

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

MAX_EXACT_INT = 2**53


class Unsupported(Exception):
    """Values the typed columns cannot hold exactly (nested or huge numbers): use the pure scorer."""


def pointer(key: str) -> str:
    """The key as a JSON pointer (RFC 6901), which DuckDB reads for any key."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def raw_names(prefix: list[str], keys: Sequence[str], raw: bool) -> list[str]:
    """The raw rows' columns: `prefix`, then the raw JSON text `_p` (`raw`) or each key's JSON text `_j<i>`."""
    if raw:  # the raw JSON text, keys extracted by DuckDB
        return [*prefix, "_p"] if keys else prefix
    return [*prefix, *(f"_j{i}" for i in range(len(keys)))]


def typed_sql(plain: Sequence[str], keys: Sequence[str], raw: bool) -> str:
    """SELECT of the plain columns, three slots per key and `_ls_bad` (a value no slot holds).

    `raw`: the keys are in the JSON text `_p`; else each key's value is the JSON text `_j<i>`.
    Layered so each value, its JSON type and its number are computed once, and CASE (not AND/OR,
    which evaluate both sides) keeps the costly tests to the rows they concern."""
    if not keys:
        return f"SELECT {', '.join(q.ident(c) for c in plain)}, FALSE AS _ls_bad FROM _st_raw"
    values = [q.ident(c) for c in plain]
    if raw:
        # each key's JSON type and its text (a string's value unquoted, else its JSON text) in two
        # passes over `_p` for all keys, not a JSON value per key parsed again for its type and its
        # string (5.07M events, three keys, one thread: 1.60-1.69 -> 1.41-1.45 CPU s). The text is the
        # one `CAST(value AS VARCHAR)` and `->> '$'` gave; a JSON null has no text, and no slot reads it
        # (tests/bulk/test_export.py: any value typed from `_p` as it is typed alone)
        paths = ", ".join(q.text(pointer(k)) for k in keys)
        values += [f"json_type(_p, [{paths}]) AS _ls_tt", f"json_extract_string(_p, [{paths}]) AS _ls_ss"]
        typed = [f"_ls_tt[{i + 1}] AS _t{i}, _ls_ss[{i + 1}] AS _s{i}" for i in range(len(keys))]
        helpers = ", ".join(f"_t{i}, _s{i}" for i in range(len(keys)))
    else:
        values += [f"CAST(_j{i} AS JSON) AS _v{i}" for i in range(len(keys))]
        typed = [f"json_type(_v{i}) AS _t{i}" for i in range(len(keys))]
        helpers = ", ".join(f"_v{i}, _t{i}" for i in range(len(keys)))
    slots, bad = [], []
    for i, key in enumerate(keys):
        t, num = f"_t{i}", q.ident(key + "::num")
        # the value's JSON text, and a string's value
        text, string = (f"_s{i}", f"_s{i}") if raw else (f"CAST(_v{i} AS VARCHAR)", f"_v{i} ->> '$'")
        number = f"{t} IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
        slots.append(f"CASE WHEN {number} THEN TRY_CAST({text} AS DOUBLE) END AS {num}")
        slots.append(f"CASE WHEN {t} = 'VARCHAR' THEN {string} END AS {q.ident(key + '::str')}")
        slots.append(f"CASE WHEN {t} = 'BOOLEAN' THEN TRY_CAST({text} AS BOOLEAN) END AS {q.ident(key + '::bool')}")
        # a whole number written without a fraction is a Python int: beyond 2**53 a double loses it
        # (JSON types it BIGINT/UBIGINT, or DOUBLE past 64 bits: then only its text tells)
        bad.append(
            f"CASE WHEN {t} IN ('OBJECT', 'ARRAY') THEN TRUE WHEN {t} IN ('BIGINT', 'UBIGINT') "
            f"THEN abs(TRY_CAST({text} AS HUGEINT)) > {MAX_EXACT_INT} "
            f"WHEN {t} = 'DOUBLE' AND abs({num}) > {MAX_EXACT_INT} "
            f"THEN NOT regexp_matches({text}, '[.eE]') ELSE FALSE END"
        )
    flag = " OR ".join(f"coalesce({b}, FALSE)" for b in bad)
    inner = "* EXCLUDE (_ls_tt, _ls_ss)" if raw else "*"
    return (
        f"SELECT * EXCLUDE ({helpers}), {flag} AS _ls_bad FROM (SELECT *, {', '.join(slots)} FROM "
        f"(SELECT {inner}, {', '.join(typed)} FROM (SELECT {', '.join(values)} FROM _st_raw)))"
    )


def converter(
    con: duckdb.DuckDBPyConnection, plain: Sequence[str], keys: Sequence[str], raw: bool
) -> Callable[[pa.RecordBatch | pa.Table], pa.Table]:
    """A function turning a batch of raw rows into the typed columns (`typed_sql`, every slot kept);
    raises `Unsupported` for a value no slot holds."""
    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc

    select = typed_sql(plain, keys, raw)
    slots_only = typed_sql((), keys, raw) if keys else select  # the slots and `_ls_bad` alone
    json_columns = raw_names([], keys, raw)
    same = {pa.string(), pa.int64(), pa.float64(), pa.bool_()}  # types DuckDB hands back unchanged

    def convert(batch: pa.RecordBatch | pa.Table) -> pa.Table:
        # the plain columns kept as they are, not copied through DuckDB and back (a part's typing at
        # 10,000 leads x 50 events: 0.23 -> 0.18 CPU s), where DuckDB would hand them back the same and
        # keeps the rows' order (the slots are joined to them by position; a run's connection that
        # does not keep it, `rescore._run`'s, takes the whole query)
        through = bool(keys) and all(batch.schema.field(c).type in same for c in plain) and _keeps_order(con)
        con.register("_st_raw", batch.select(json_columns) if through else batch)
        try:
            out = con.sql(slots_only if through else select).to_arrow_table()
        except duckdb.InvalidInputException as exc:  # JSON DuckDB cannot parse: the pure scorer reads it
            raise Unsupported(f"stored JSON the batch engine cannot read: {exc}") from exc
        finally:
            con.unregister("_st_raw")
        if pc.any(out.column("_ls_bad")).as_py():
            raise Unsupported("nested values or integers beyond 2**53 in the properties the model reads")
        out = out.drop_columns(["_ls_bad"])
        if not through:
            return out
        kept = batch.select(list(plain))
        table = kept if isinstance(kept, pa.Table) else pa.Table.from_batches([kept])
        for field, column in zip(out.schema, out.columns, strict=True):
            table = table.append_column(field, column)
        return table

    return convert


def _keeps_order(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `con` returns a query's rows in the order of its source (`preserve_insertion_order`)."""
    return bool(con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0])


def drop_unused(table: pa.Table) -> pa.Table:
    """The table without the typed slots no row uses."""
    unused = [
        i for i, name in enumerate(table.column_names) if "::" in name and table.column(i).null_count == len(table)
    ]
    return table.drop_columns([table.column_names[i] for i in unused])
