"""The portable scoring query (leadscore.sql) in PostgreSQL's dialect, over the store's typed views:
the tables renamed to the views, the stored micros read for DuckDB's `epoch_us`, each step fenced so
its columns are computed once per row, and the event type tests made tests of a small integer code.
"""

from __future__ import annotations

import re
from typing import Any

from leadscore.bulk.in_database_sums import exact_row_sums, exact_sums
from leadscore.bulk.in_database_views import EVENTS_VIEW, LEADS_VIEW, MICROS, TYPE_CODE
from leadscore.sql.condition_sql import TOTAL

# a lead's dimensions before their floors and caps, and its total (`sql.query.score_ctes`)
_ROW_SUMS = re.compile(rf"_ls_raw\d+|{TOTAL}")


def postgres_sql(sql: str, type_codes: dict[str, int] | None = None) -> str:
    """The portable query in PostgreSQL, reading the typed views and the stored micros as `_ls_ts`.

    `type_codes`, when given, is filled with the event types the query compares `type` with, each
    given a code (`type_code_sql`: the events view's `_ls_type`), and those comparisons become
    comparisons of the code (`_coded_types`)."""
    import sqlglot
    from sqlglot import exp

    renames = {"events": EVENTS_VIEW, "leads": LEADS_VIEW}

    def swap(node: Any) -> Any:
        if isinstance(node, exp.Anonymous) and str(node.this).upper() == "EPOCH_US":
            return exp.column(MICROS)
        if isinstance(node, exp.Table) and not node.db and node.name in renames:
            node.set("this", exp.to_identifier(renames[node.name]))
        return node

    tree = sqlglot.parse_one(sql, read="duckdb").transform(swap)
    tree = exact_row_sums(exact_sums(tree), _ROW_SUMS)
    if type_codes is not None:
        tree = _coded_types(tree, type_codes)
    # Each step's columns computed once per row: inlined, every reference to a dimension or the
    # total would repeat the whole tree of sums and CASEs beneath it (an OFFSET fences a subquery).
    for cte in tree.find_all(exp.CTE):
        if isinstance(cte.this, exp.Select):
            cte.this.offset(0, copy=False)
    assert isinstance(tree, exp.Select)
    return tree.offset(0, copy=False).sql(dialect="postgres")


def _event_relations(tree: Any) -> set[str]:
    """The CTEs whose rows are the events view's, every column kept (`SELECT *` of one such relation,
    no join): where the view's `_ls_type` can be read under the same name."""
    from sqlglot import exp

    carrying = {EVENTS_VIEW}
    for cte in tree.find_all(exp.CTE):
        select = cte.this
        if not isinstance(select, exp.Select) or select.args.get("joins"):
            continue
        table = _source(select)
        star = any(isinstance(e, exp.Star) for e in select.expressions)
        if star and isinstance(table, exp.Table) and not table.db and table.name in carrying:
            carrying.add(cte.alias_or_name)
    return carrying


def _coded_types(tree: Any, codes: dict[str, int]) -> Any:
    """`type = 'x'` and `type IN ('x', ...)` over the events as the same tests of the type's code.

    The flags test an event's type some twenty times per event; a text comparison (collation,
    detoasting, length, bytes) costs several times an integer's. A code is given to every type
    compared with, 0 to any other type (never NULL, as `type` is not: a test is true exactly when
    the text test is). Only comparisons in a SELECT reading one relation that carries the view's
    columns are rewritten; the others stay text tests, as correct and as slow as before."""
    from sqlglot import exp

    carrying = _event_relations(tree)

    def reads_events(node: Any, column: Any) -> bool:
        select = node.find_ancestor(exp.Select)
        if select is None or select.args.get("joins"):
            return False
        table = _source(select)
        if not isinstance(table, exp.Table) or table.db or table.name not in carrying:
            return False
        return not column.table or column.table == table.alias_or_name

    def code(value: str) -> exp.Expression:
        return exp.Literal.number(codes.setdefault(value, len(codes) + 1))

    def coded(column: Any) -> exp.Expression:
        return exp.column(TYPE_CODE, table=column.table or None)

    def swap(node: Any) -> Any:
        if isinstance(node, exp.EQ):
            col, lit = node.this, node.expression
            if isinstance(lit, exp.Column):
                col, lit = lit, col
            if _type_column(col) and _text(lit) and reads_events(node, col):
                return exp.EQ(this=coded(col), expression=code(lit.this))
        if isinstance(node, exp.In) and _type_column(node.this) and not node.args.get("query"):
            values = node.expressions
            if values and all(_text(v) for v in values) and reads_events(node, node.this):
                return exp.In(this=coded(node.this), expressions=[code(v.this) for v in values])
        return node

    return tree.transform(swap)


def _source(select: Any) -> Any:
    """The relation of a SELECT's FROM clause (sqlglot names the argument `from_`, older ones `from`)."""
    source = select.args.get("from_", select.args.get("from"))
    return source.this if source is not None else None


def _type_column(node: Any) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Column) and node.name == "type" and not node.args.get("db")


def _text(node: Any) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Literal) and node.is_string
