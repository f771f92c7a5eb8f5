"""How properties and attributes sit in the tables the query reads: columns with a kind of value.

The model compares without coercion (a number never equals a text), so each predicate is compiled
against the kind of the column it reads. A property is normally one typed column; a source whose
values have mixed kinds (JSON) splits it into one column per kind, so a property is a list of slots
of which at most one is non-null per row. A property with no column is missing everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["num", "str", "bool", "other"]

_NUM = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "REAL",
    "DECIMAL",
    "INT",
    "LONG",
    "SHORT",
    "BYTE",
    "INT64",
    "FLOAT64",
)
RESERVED_EVENT_COLUMNS = frozenset({"id", "lead_id", "type", "timestamp"})
RESERVED_LEAD_COLUMNS = frozenset({"id", "lead_id"})
# Internal columns a source may carry; never properties or attributes.
INTERNAL_PREFIX = "_ls_"


def kind_of_sql_type(sql_type: str) -> Kind:
    t = sql_type.upper().split("(")[0].strip()
    if t in ("VARCHAR", "STRING", "TEXT", "CHAR", "BPCHAR") or t.startswith("VARCHAR"):
        return "str"
    if t in ("BOOLEAN", "BOOL"):
        return "bool"
    if t in _NUM:
        return "num"
    return "other"


@dataclass(frozen=True, slots=True)
class Slot:
    column: str
    kind: Kind


@dataclass(frozen=True)
class TableSchema:
    """Property (or attribute) name -> the columns holding its values, by kind."""

    slots: Mapping[str, tuple[Slot, ...]] = field(default_factory=dict)

    def of(self, name: str) -> tuple[Slot, ...]:
        return tuple(self.slots.get(name, ()))

    def columns(self) -> list[str]:
        return [s.column for slots in self.slots.values() for s in slots]

    @staticmethod
    def from_columns(columns: Iterable[tuple[str, str]], reserved: frozenset[str]) -> TableSchema:
        """From (column name, SQL type) pairs. `name::kind` columns are the split slots of `name`."""
        out: dict[str, list[Slot]] = {}
        for col, sql_type in columns:
            if col in reserved or col.startswith(INTERNAL_PREFIX):
                continue
            name, sep, suffix = col.rpartition("::")
            if sep and suffix in ("num", "str", "bool", "other"):
                out.setdefault(name, []).append(Slot(col, suffix))  # type: ignore[arg-type]
            else:
                out.setdefault(col, []).append(Slot(col, kind_of_sql_type(sql_type)))
        return TableSchema({k: tuple(v) for k, v in out.items()})


@dataclass(frozen=True)
class SourceSchema:
    events: TableSchema
    leads: TableSchema
    has_event_id: bool = True
    has_ord: bool = True
    # an events column that holds for the rows the input check must look at (batch.duckdb.sources)
    row_check: str | None = None
    # with row_check, a BOOLEAN over the query's lead id column `_ls_id`: that id needs the check
    lead_check: str | None = None
    # with row_check, a BOOLEAN over an event's `id` that the duplicate check computes in its own pass
    # over the ids (the scoring pass then never reads them); None: the scoring pass checks the ids
    id_check: str | None = None
    # with row_check, a query counting the rows some of the check's conditions hold for, in scans of
    # their own (batch.duckdb.file_checks.row_check_sql): looked at before any result is trusted
    scan_check: str | None = None
