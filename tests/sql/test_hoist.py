"""Repeated subexpressions named once (`sql.hoist`): only whole operands are taken, and the SQL with its
parts named gives the same values as the SQL written out."""

from __future__ import annotations

import pytest

from leadscore.sql.hoist import hoist

duckdb = pytest.importorskip("duckdb")

PART = "(CASE WHEN a > 1 THEN CAST(2.5 AS DOUBLE) * a ELSE CAST(0.0 AS DOUBLE) END)"


def _run(columns: list[str], layers: list[list[tuple[str, str]]], exprs: list[str]) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (0, 'x(y'), (2, 'p'), (5, NULL)) AS v(a, \"b (c)\")")
    ctes, last = [], "t"
    for k, layer in enumerate(layers):
        ctes.append(f"h{k} AS (SELECT *, {', '.join(f'{sql} AS {name}' for sql, name in layer)} FROM {last})")
        last = f"h{k}"
    with_ = f"WITH {', '.join(ctes)} " if ctes else ""
    sql = f"{with_}SELECT {', '.join(f'{e} AS c{i}' for i, e in enumerate(exprs))} FROM {last} ORDER BY a"
    rows = con.execute(sql).fetchall()
    written = con.execute(
        f"SELECT {', '.join(f'{e} AS c{i}' for i, e in enumerate(columns))} FROM t ORDER BY a"
    ).fetchall()
    assert rows == written
    return rows


def test_a_repeated_operand_is_named_once_and_gives_the_same_values() -> None:
    inner = f"({PART} + {PART})"
    columns = [f"({inner} > 3 OR {PART} < 0)", f"least({inner}, CAST(9.0 AS DOUBLE))", f"NOT {inner} = 0"]
    # PART saves most (7 copies): named first; the sums of it are then too short to name
    layers, exprs = hoist(columns, "_h", min_chars=20)
    assert layers == [[(PART, "_h0")]] and "CASE" not in "".join(exprs)
    _run(columns, layers, exprs)
    # with long enough sums, the sum is named too, in a layer after the part it reads
    layers, exprs = hoist(columns, "_h", min_chars=10)
    assert layers == [[(PART, "_h0")], [("(_h0 + _h0)", "_h1")]]
    assert exprs == ["(_h1 > 3 OR _h0 < 0)", "least(_h1, CAST(9.0 AS DOUBLE))", "NOT _h1 = 0"]
    _run(columns, layers, exprs)


def test_calls_lists_rows_quoted_text_and_lambdas_are_left_as_written() -> None:
    long_list = "('" + "', '".join(f"value{i}" for i in range(12)) + "')"
    columns = [
        f'coalesce("b (c)" IN {long_list}, FALSE)',  # an IN list is no operand
        f'coalesce("b (c)" IN {long_list}, TRUE)',
        "least(a + 100000000, a * 200000000, a - 300000000)",  # a call's arguments are no operand
        "least(a + 100000000, a * 200000000, a - 300000000) + 1",
        "'(a + 1000000000000000000000000000000000000000000)' || 'x'",  # inside quotes: text
        "'(a + 1000000000000000000000000000000000000000000)' || 'y'",
        "list_reduce([a, a, a], lambda acc, x: (acc + x * 1000000000000000000000000000)) + 0",
        "list_reduce([a, a, a], lambda acc, x: (acc + x * 1000000000000000000000000000)) + 1",
    ]
    layers, exprs = hoist(columns, "_h", min_chars=20)
    assert layers == [] and exprs == columns
    _run(columns, layers, exprs)


def test_nothing_below_the_threshold_or_unbalanced_is_taken() -> None:
    short = ["(a + 1) * 2", "(a + 1) * 3"]
    assert hoist(short, "_h") == ([], short)
    odd = [f"{PART} + ')'", f"{PART} + 1)"]  # the second is not balanced: nothing taken from it
    layers, exprs = hoist(odd, "_h", min_chars=20)
    assert layers == [] and exprs == odd


def test_the_same_text_is_answered_once_and_each_caller_gets_its_own_lists() -> None:
    from leadscore.sql.hoist import _hoisted

    columns = [f"({PART} > 3 OR {PART} < 0)", f"NOT {PART} = 0"]
    _hoisted.cache_clear()
    layers, exprs = hoist(columns, "_h", min_chars=20)
    layers[0].append(("x", "y"))  # a caller's change to its answer is its own
    exprs.append("z")
    again = hoist(list(columns), "_h", min_chars=20)
    assert _hoisted.cache_info().hits == 1
    assert again == ([[(PART, "_h0")]], ["(_h0 > 3 OR _h0 < 0)", "NOT _h0 = 0"])
    _run(columns, *again)
