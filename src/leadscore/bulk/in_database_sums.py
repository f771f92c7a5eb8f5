"""The scoring query's float sums in PostgreSQL as exact sums: the same bytes whatever the plan.

PostgreSQL's SUM over doubles adds the rows in the order the plan reads them (the table's order under
a hash aggregate, a sort's under a group aggregate, partial sums under parallel workers): the plan
changes with the statistics, and the same events then give a score that differs in its last bits. The
pure scorer sums with `math.fsum`, exactly rounded. Here each double is split, exactly, into two or
three whole numbers in fixed point (lanes of 52 bits below a scale chosen so that the first lane fits a
BIGINT), each lane is summed as integers (SUM of BIGINT is an exact NUMERIC, whatever the order), and the
lanes' sums are joined in NUMERIC and rounded once to a double (NUMERIC to double is correctly
rounded): `math.fsum`'s value of the same terms, to the last bit.

Exact for every term of magnitude at least 2 ** -scale (a rule's decayed points: 2 ** -61 for 2
points; an amount: 2 ** -60 with three lanes); the bits of smaller terms below 2 ** -(scale + 52 *
(lanes - 1)) are rounded off, the same way in any order. A term past the bound (a value stored before
numbers were checked at the door) overflows the BIGINT: an error, and the in-database apply gives
way to the other paths (`in_database.rescore_in_database`).
"""

from __future__ import annotations

import math
import re
from typing import Any

LANE_BITS = 52
# accepted numbers lie within 2 ** 53 (domain.numbers): the bound of a term whose bound is unknown
_ANY_BOUND = 2.0**53
_FIRST_LANE_BITS = 62  # a first lane's whole part below 2 ** 62: one BIGINT, its sign included


def _pow2(k: int) -> str:
    """2 ** k (0 <= k < 63) as an exact double: a BIGINT power of two cast."""
    return f"CAST({2**k} AS DOUBLE PRECISION)"


def _exact_fraction(k: int) -> str:
    """2 ** -k as an exact NUMERIC literal (k decimal digits: 2 ** -k = 5 ** k / 10 ** k)."""
    digits = str(5**k).rjust(k, "0")
    return f"0.{digits}"


def scale_for(bound: float) -> int:
    """The power of two that brings a term of magnitude at most `bound` just under 2 ** 62."""
    _, e = math.frexp(bound)  # bound < 2 ** e
    return _FIRST_LANE_BITS - e


def lanes_sql(value: str, scale: int, lanes: int) -> list[str]:
    """BIGINT SQL of each lane of the double `value` times 2 ** `scale`: the whole part, then `lanes - 1`
    times the next 52 bits of the fraction, whole (each step exact: a double minus its rounded value is
    a double, and times 2 ** 52 it stays one)."""
    rest = f"(({value}) * {_pow2(scale)})"
    out = []
    for i in range(lanes):
        out.append(f"CAST(round({rest}) AS BIGINT)")
        if i + 1 < lanes:
            rest = f"(({rest} - round({rest})) * {_pow2(LANE_BITS)})"
    return out


def joined_sql(sums: list[str], scale: int) -> str:
    """The double nearest the lanes' NUMERIC sums joined: sum_0 * 2 ** (52 (n-1)) + ... + sum_n-1, times
    2 ** -(scale + 52 (n-1)), exactly, then rounded once."""
    total = sums[0]
    for s in sums[1:]:
        total = f"({total} * {2**LANE_BITS} + {s})"
    shift = scale + LANE_BITS * (len(sums) - 1)
    factor = _exact_fraction(shift) if shift > 0 else str(2 ** (-shift))
    return f"CAST({total} * {factor} AS DOUBLE PRECISION)"


def _bound(node: Any) -> float | None:
    """The largest magnitude of a rule's decayed points, `points * factor` (a decay factor lies in
    [0, 1]): the points; None for any other term."""
    from sqlglot import exp

    if not isinstance(node, exp.Mul):
        return None
    for literal, column in ((node.this, node.expression), (node.expression, node.this)):
        if isinstance(literal, exp.Cast):
            literal = literal.this
        if isinstance(column, exp.Column) and column.name.startswith("_ls_x") and isinstance(literal, exp.Literal):
            try:
                points = abs(float(literal.this))
            except ValueError:  # pragma: no cover - a literal of the query's own making
                return None
            return points if 0 < points <= _ANY_BOUND else None
    return None


def exact_sums(tree: Any) -> Any:
    """Every SUM of `tree` that is no window function as an exact sum of its lanes."""
    import sqlglot
    from sqlglot import exp

    def lanes_of(value: Any) -> tuple[int, int]:
        bound = _bound(value)
        return (scale_for(bound), 2) if bound is not None else (scale_for(_ANY_BOUND), 3)

    def swap(node: Any) -> Any:
        filtered = isinstance(node, exp.Filter) and isinstance(node.this, exp.Sum)
        if not (filtered or (isinstance(node, exp.Sum) and not isinstance(node.parent, exp.Filter | exp.Window))):
            return node
        summed = node.this if filtered else node
        arg = summed.this
        where = f" FILTER ({node.expression.sql(dialect='postgres')})" if filtered else ""
        case = arg if isinstance(arg, exp.Case) and len(arg.args.get("ifs") or []) == 1 else None
        if case is not None and case.args.get("default") is None:
            # SUM(CASE WHEN flag THEN v END): the lanes of v under the flag, so that the rows the flag
            # drops cost one test, as before
            cond, value = case.args["ifs"][0].this, case.args["ifs"][0].args["true"]
            scale, n = lanes_of(value)
            test = cond.sql(dialect="postgres")
            parts = [f"CASE WHEN {test} THEN {lane} END" for lane in lanes_sql(value.sql(dialect="postgres"), scale, n)]
        else:
            scale, n = lanes_of(arg)
            parts = lanes_sql(arg.sql(dialect="postgres"), scale, n)
        sql = joined_sql([f"SUM({p}){where}" for p in parts], scale)
        return sqlglot.parse_one(sql, read="postgres")

    return tree.transform(swap)


_ROW_LANES = 3
_ZERO = "CAST(0.0 AS DOUBLE PRECISION)"


def row_sum_sql(terms: list[str]) -> str:
    """SQL: the exactly rounded sum of a row's few doubles (`math.fsum`'s value), never -0.0.

    The pure scorer adds a dimension's points, then the dimensions, with `math.fsum`, and a sum of
    nothing but zeros is +0.0 there (a zero contribution is dropped, `+ 0.0` makes a dimension's -0.0
    0.0). A plain `+` of at most two terms other than zero is rounded once: exact, and `+ 0.0` makes
    -0.0 +0.0 (and changes nothing else); a lead with more goes through the lanes, per row: each term
    split as the SUMs' are, the lanes added as integers, joined and rounded once. The scale leaves room
    for the terms' sum in each lane (a BIGINT): exact for terms of at least 2 ** -52 in a row of up to
    256 terms (the bits of smaller ones below 2 ** -(scale + 104) rounded off, as the SUMs' are); a
    term past 2 ** 53 may overflow it: an error, as for the SUMs (the apply gives way to the other
    paths)."""
    plain = f"({' + '.join(terms)} + {_ZERO})"
    if len(terms) <= 2:
        return plain
    nonzero = " + ".join(f"(CASE WHEN {t} <> 0 THEN 1 ELSE 0 END)" for t in terms)
    scale = scale_for(_ANY_BOUND * len(terms))
    lanes = [lanes_sql(t, scale, _ROW_LANES) for t in terms]
    sums = [f"CAST({' + '.join(lane[i] for lane in lanes)} AS NUMERIC)" for i in range(_ROW_LANES)]
    return f"(CASE WHEN {nonzero} <= 2 THEN {plain} ELSE {joined_sql(sums, scale)} END)"


def exact_row_sums(tree: Any, names: re.Pattern[str]) -> Any:
    """Every column of `tree` named by `names` that is a `+` of columns (or one column) as `row_sum_sql`
    of them: the query's dimensions and total (`sql.query.score_ctes`), added in the query's order
    before, which gave other last bits than the pure scorer's for about one lead in ten."""
    import sqlglot
    from sqlglot import exp

    def terms_of(node: Any) -> list[Any] | None:
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Column):
            return [node]
        if isinstance(node, exp.Add):
            left, right = terms_of(node.this), terms_of(node.expression)
            return None if left is None or right is None else left + right
        return None

    def swap(node: Any) -> Any:
        if not (isinstance(node, exp.Alias) and names.fullmatch(node.alias)):
            return node
        terms = terms_of(node.this)
        if terms is None:
            return node
        summed = sqlglot.parse_one(row_sum_sql([t.sql(dialect="postgres") for t in terms]), read="postgres")
        return exp.alias_(summed, node.alias)

    return tree.transform(swap)
