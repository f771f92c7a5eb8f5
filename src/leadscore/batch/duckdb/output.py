"""A batch run's results out of DuckDB: as `Result.to_dict()` rows, JSON Lines or Parquet (without the
per-rule breakdown, the default; the breakdown as one column per rule and dimension; or as the list)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from leadscore.sql import literals as q
from leadscore.sql.result_columns import columns_row, dimensions_row

if TYPE_CHECKING:
    import duckdb

    from leadscore.model.spec import ScoringModel

# the breakdown in Parquet output: none (the score of each dimension only), one column per rule and
# dimension, or the list of `Result.to_dict()` (`leadscore.sql.result_columns`)
Breakdown = Literal["dimensions", "columns", "list"]
LAYOUTS = ("dimensions", "columns", "list")


class _Stats(Protocol):
    fallback_leads: int
    seconds: dict[str, float]


class BatchRun(Protocol):
    """What of a run (`run.BatchRun`) its results are written from."""

    @property
    def con(self) -> duckdb.DuckDBPyConnection: ...

    @property
    def model(self) -> ScoringModel: ...

    @property
    def stats(self) -> _Stats: ...

    def shaped(self, json_text: bool, breakdown: Breakdown = "list") -> str | None: ...

    def fallback_json(self, size: int = 10_000) -> Iterator[list[str]]: ...


def to_dicts(run: BatchRun) -> list[dict[str, Any]]:
    """Every result as `Result.to_dict()` gives it (native rows first, then fallback rows)."""
    out: list[dict[str, Any]] = []
    sql = run.shaped(True)
    if sql is not None:
        cur = run.con.execute(f"SELECT to_json(r) FROM ({sql}) AS r")
        while batch := cur.fetchmany(10_000):
            out.extend(json.loads(row[0]) for row in batch)
    for part in run.fallback_json():
        out.extend(json.loads(text) for text in part)
    return out


def file_format(path: Path, breakdown: Breakdown = "dimensions") -> str:
    """DuckDB's COPY format of an output file, by its extension: JSON (`.jsonl`, `.ndjson`, `.json`) or
    PARQUET; ValueError for another extension or layout."""
    if breakdown not in LAYOUTS:
        raise ValueError(f"breakdown {breakdown!r}: use one of {', '.join(LAYOUTS)}")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "JSON"
    if suffix == ".parquet":
        return "PARQUET"
    raise ValueError(f"{path}: unsupported output format {suffix or '(none)'}; use .jsonl or .parquet")


def beside(path: Path) -> Path:
    """Where an output is written before it is complete and its run's checks passed: beside it (the same
    file system, so that `os.replace` puts it in place whole), hidden, named after the process."""
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


def copy(con: duckdb.DuckDBPyConnection, sql: str, path: Path, fmt: str) -> int:
    """`COPY (sql) TO path`: the rows written."""
    row = con.execute(f"COPY ({sql}) TO {q.text(str(path))} (FORMAT {fmt})").fetchall()
    return int(row[0][0]) if row and row[0][0] is not None else 0


def write(run: BatchRun, path: str | Path, breakdown: Breakdown = "dimensions") -> Path:
    """JSON Lines (.jsonl, .ndjson, .json: `Result.to_dict()` per line) or Parquet (.parquet), by the
    file's extension. In Parquet the breakdown is left out (`dimensions`: the score of each dimension
    only), one column per rule and dimension (`columns`, `leadscore.sql.result_columns`) or the list
    of `Result.to_dict()` (`list`). Written beside the file and put in its place once whole: a failed
    write leaves an existing file as it was."""
    p = Path(path)
    fmt = file_format(p, breakdown)
    t = time.perf_counter()
    tmp = beside(p)
    try:
        if fmt == "JSON":
            _write_json(run, tmp)
        else:
            _write_parquet(run, tmp, breakdown)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    run.stats.seconds["write"] = time.perf_counter() - t
    return p


def _write_json(run: BatchRun, p: Path) -> None:
    sql = run.shaped(True)
    if sql is not None:
        copy(run.con, sql, p, "JSON")
    else:
        p.write_text("")
    if run.stats.fallback_leads:
        with p.open("a", encoding="utf-8") as fh:
            for part in run.fallback_json():
                fh.write("".join(text + "\n" for text in part))


def _write_parquet(run: BatchRun, p: Path, breakdown: Breakdown) -> None:
    sql = run.shaped(False, breakdown)

    def row(text: str) -> dict[str, Any]:
        d = json.loads(text)
        if breakdown == "dimensions":
            return dimensions_row(d)
        return columns_row(run.model, d) if breakdown == "columns" else _arrow_row(d)

    if sql is not None and not run.stats.fallback_leads:
        copy(run.con, sql, p, "PARQUET")
    else:
        # imported here: a run without the pure scorer's rows does not need pyarrow (0.1 CPU s to import)
        import pyarrow as pa
        import pyarrow.parquet as pq

        # streamed: the native rows batch by batch, then the pure scorer's, in one schema
        native = run.con.sql(sql).to_arrow_reader(100_000) if sql is not None else None
        if native is not None:
            schema = native.schema
        else:  # every lead went to the pure scorer: the schema their rows agree on
            found = [pa.Table.from_pylist([row(x) for x in part]).schema for part in run.fallback_json()]
            schema = pa.unify_schemas(found, promote_options="permissive")
        with pq.ParquetWriter(p, schema) as writer:
            if native is not None:
                for batch in native:
                    writer.write_batch(batch)
            for part in run.fallback_json():
                writer.write_table(pa.Table.from_pylist([row(x) for x in part], schema=schema))


def _arrow_row(d: dict[str, Any]) -> dict[str, Any]:
    d = dict(d)
    d["breakdown"] = [{"events": None, **e} for e in d["breakdown"]]
    return d
