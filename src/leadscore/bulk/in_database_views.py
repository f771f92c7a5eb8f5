"""The store's `leads` and `events` as the scoring query reads them, as SQL inside PostgreSQL.

The store keeps properties and attributes as JSONB documents (`store.tables`: parsed when
written); the query wants one typed column per kind of value. Every name the model reads gets
four slots, `name::num`, `name::str`, `name::bool` and `name::other` (JSON null, objects, arrays:
present, but equal to nothing, exactly as the pure scorer sees None or a list), of which at most
one is non-null per row, because the same property can be a number in one event and text in another.

Each document is read once per row (the cast to JSONB is a no-op on today's schema and parses the
documents of a store still on the plain JSON type): the views are fenced subqueries (`OFFSET 0`) so that the
planner does not copy the extraction into every aggregate that reads a slot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from leadscore.model.spec import ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.columns import SourceSchema, TableSchema
from leadscore.sql.dialects import infer_schema
from leadscore.store.codec import timeline_id_sql

LEADS_VIEW = "_lsv_leads"
EVENTS_VIEW = "_lsv_events"
MICROS = "_ls_micros"  # the event's time in epoch micros, as stored: fed to the query as `_ls_ts`
TYPE_CODE = "_ls_type"  # the event's type as a small integer (`type_code_sql`)
KINDS = ("num", "str", "bool", "other")


@dataclass(frozen=True)
class Part:
    """One of `of` disjoint sets of leads, by a hash of the lead id: every lead is in exactly one, with
    all its events, so a lead's aggregates read the same rows in the same order as over the whole store."""

    index: int
    of: int

    def sql(self, column: str) -> str:
        if self.of == 2:
            # the planner's guess for an inequality over an expression is a third of the rows, near the
            # half it selects; for `expr = k` it is 0.5%, which made it sort 6M events to aggregate them
            # (instead of hashing them in the table's order) and hash the stored results for a few leads
            return f"hashtext({column}) {'<' if self.index == 0 else '>='} 0"
        return f"(hashtext({column}) & 2147483647) % {int(self.of)} = {int(self.index)}"


@dataclass(frozen=True)
class Names:
    """The properties and attributes the model reads (the others never reach the query)."""

    properties: tuple[str, ...]
    attributes: tuple[str, ...]
    types: tuple[str, ...] = ()  # the event types whose properties some filter or aggregate reads


def model_names(model: ScoringModel) -> Names:
    from leadscore.bulk.export import property_types  # the same types the store's export reads

    guessed = infer_schema(model)
    return Names(tuple(guessed.events.slots), tuple(guessed.leads.slots), property_types(model))


def source_schema(names: Names) -> SourceSchema:
    """Four slots per name; event ids are the store's unique keys and `_ls_ord` its sequence."""

    def table(keys: Iterable[str]) -> TableSchema:
        return TableSchema.from_columns(((f"{k}::{kind}", "") for k in keys for kind in KINDS), frozenset())

    return SourceSchema(events=table(names.properties), leads=table(names.attributes), has_event_id=True, has_ord=True)


def _slots(names: tuple[str, ...]) -> tuple[str, str]:
    """(inner columns: each value's JSON type and text, read once from `_doc`; outer typed slot columns)."""
    inner, outer = [], []
    for i, name in enumerate(names):
        key = q.text(name)
        inner.append(f"jsonb_typeof(_doc -> {key}) AS _t{i}, _doc ->> {key} AS _v{i}")
        outer += [
            f"CASE WHEN _t{i} = 'number' THEN CAST(_v{i} AS DOUBLE PRECISION) END AS {q.ident(name + '::num')}",
            f"CASE WHEN _t{i} = 'string' THEN _v{i} END AS {q.ident(name + '::str')}",
            f"CASE WHEN _t{i} = 'boolean' THEN CAST(_v{i} AS BOOLEAN) END AS {q.ident(name + '::bool')}",
            f"CASE WHEN _t{i} IN ('null', 'object', 'array') THEN _t{i} END AS {q.ident(name + '::other')}",
        ]
    return ", ".join(inner), ", ".join(outer)


def _typed(keep: str, out: str, table: str, doc: str, where: str, names: tuple[str, ...]) -> str:
    """`out` columns + slots over `table`: the document parsed once, each value looked up once.

    `doc` is the SQL of the document (NULL where nothing reads it: parsing is most of the cost)."""
    if not names:
        return f"SELECT {out} FROM {table}{where}"
    inner, outer = _slots(names)
    docs = f"SELECT {keep}, CAST({doc} AS JSONB) AS _doc FROM {table}{where} OFFSET 0"
    return f"SELECT {out}, {outer} FROM (SELECT {keep}, {inner} FROM ({docs}) AS d0 OFFSET 0) AS d1"


def leads_view(names: Names, only: str | None = None, part: Part | None = None) -> str:
    """SELECT of `id` + the attribute slots; `only` names a table of lead ids to restrict to, `part`
    a part of the leads."""
    conds = [f"id IN (SELECT lead_id FROM {only})"] if only else []
    if part is not None:
        conds.append(part.sql("id"))
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    return _typed("id", "id", "leads", "attributes", where, names.attributes)


def type_code_sql(codes: dict[str, int]) -> str:
    """SQL of the code of the event's `type`: its number in `codes`, 0 for any other type (never NULL).

    One CASE per event (the types in the order the query first tests them) instead of a text
    comparison per flag."""
    if not codes:
        return "0"
    whens = " ".join(f"WHEN {q.text(t)} THEN {int(c)}" for t, c in codes.items())
    return f"(CASE type {whens} ELSE 0 END)"


def events_view(
    names: Names,
    only: str | None = None,
    until: int | None = None,
    keep: str | None = None,
    codes: dict[str, int] | None = None,
    part: Part | None = None,
) -> str:
    """SELECT of lead_id, type, timestamp, id (the event key), `_ls_ord` (the log's sequence),
    `_ls_micros` and the property slots; `until` keeps the events at or before that instant, `keep`
    (SQL over `type` and `ts`) only the events some rule can read (`sql.relevance`); with `codes`
    (type -> code), also `_ls_type`, the type's code (`type_code_sql`); `part`: the events of a part
    of the leads."""
    conds = [keep] if keep else []
    if only:
        conds.append(f"lead_id IN (SELECT lead_id FROM {only})")
    if part is not None:
        conds.append(part.sql("lead_id"))
    if until is not None:
        conds.append(f"ts <= {int(until)}")
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    out = (
        "lead_id, type, timestamptz 'epoch' + ts * interval '1 microsecond' AS \"timestamp\", "
        f"{timeline_id_sql()} AS id, seq AS _ls_ord, ts AS {MICROS}"
    )
    if codes is not None:
        out += f", {type_code_sql(codes)} AS {TYPE_CODE}"
    # every filter that reads a property tests the event's type first (conditions.event_filter), so
    # the properties of other types are never looked at: they are not parsed
    doc = f"CASE WHEN type IN {q.text_list(names.types)} THEN properties END" if names.types else "NULL"
    return _typed("lead_id, type, event_key, received_lead_id, seq, ts", out, "events", doc, where, names.properties)
