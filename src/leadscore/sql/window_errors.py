"""How far the one-pass lifecycle replay's scores may lie from the pure scorer's, and each automatic
condition decided three-valued under that bound (`stage_windows`).

The rules with a rewritten decay carry an error bound (`window_rules`); a dimension's bound is its
rules' (plus its own sum's rounding), zero where the dimension is certainly past its cap or floor
(it is the bound itself, exactly), and the total's is the dimensions'. A condition on a score is
then certainly true, certainly false, or too close to its threshold to tell: the few (lead, t) rows
left undecided are scored by the join, which is exact. Values without such a decay have no error and
compare exactly (a cap of 40 against `gte: 40` decides as the pure scorer does). Apart from the query
because this is the condition kinds' handler for that certainty (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from leadscore.model.conditions import (
    AggregateCondition,
    AllCondition,
    AnyCondition,
    AttributeCondition,
    Condition,
    CountCondition,
    LabelCondition,
    LastCondition,
    NoneCondition,
    NotCondition,
    ScoreCondition,
    StageCondition,
)
from leadscore.model.spec import ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.condition_sql import TOTAL
from leadscore.sql.stage_bounds import _num_pred
from leadscore.sql.window_compiler import ZERO, WindowCompiler
from leadscore.sql.window_rules import EPS, WindowRule


def score_errors(model: ScoringModel, rules: Sequence[WindowRule]) -> dict[str, str]:
    """Each dimension's error bound and the total's, by name: SQL over the row's raw sums (`_ls_raw{j}`)
    and, for the total, the dimensions' bounds as columns `_ls_de{j}` and TOTAL; "0" where exact."""
    dims = model.dimension_names()
    errors: dict[str, str] = {}
    for j, d in enumerate(dims):
        own = [r.error for r in rules if r.sql.dimension == d and r.error != "0"]
        if not own:
            errors[d] = "0"
            continue
        # the dimension's own sum rounds once more (relative 2 ** -52 at most, fsum)
        err = f"(({' + '.join(own)}) * (1.0 + {EPS!r}) + {EPS!r} * abs(_ls_raw{j}))"
        spec = model.dimension_spec(d)
        clamped = []  # certainly past a bound: the dimension is the bound itself, exactly
        if spec.cap is not None:
            clamped.append(f"_ls_raw{j} - {err} > {q.double(spec.cap)}")
        if spec.floor is not None:
            clamped.append(f"_ls_raw{j} + {err} < {q.double(spec.floor)}")
        errors[d] = f"(CASE WHEN {q.any_of(clamped)} THEN {ZERO} ELSE {err} END)" if clamped else err
    if any(e != "0" for e in errors.values()):
        total_err = " + ".join(f"_ls_de{j}" for j, d in enumerate(dims) if errors[d] != "0")
        errors["total"] = f"(({total_err}) * (1.0 + {EPS!r}) + {EPS!r} * abs({TOTAL}))"
    else:
        errors["total"] = "0"
    return errors


def tri(c: WindowCompiler, cond: Condition, errors: dict[str, str]) -> tuple[str, str]:
    """(certainly true, certainly false) of a condition whose scores are known within their error."""
    match cond:
        case ScoreCondition():
            exact = c.condition(cond)
            column = TOTAL if cond.score == "total" else c.dimension_columns[cond.score]
            err = errors[cond.score]
            if err == "0":
                return exact, q.negate(exact)
            m = _num_pred(cond, f"({column} - {err})", f"({column} + {err})")
            sure = f"(CASE WHEN {err} = 0 THEN {exact} ELSE {q.negate(m.may_fail)} END)"
            never = f"(CASE WHEN {err} = 0 THEN {q.negate(exact)} ELSE {q.negate(m.may_hold)} END)"
            return sure, never
        case AllCondition():
            parts = [tri(c, x, errors) for x in cond.all]
            return q.all_of([t for t, _ in parts]), q.any_of([f for _, f in parts])
        case AnyCondition():
            parts = [tri(c, x, errors) for x in cond.any]
            return q.any_of([t for t, _ in parts]), q.all_of([f for _, f in parts])
        case NotCondition():
            sure, never = tri(c, cond.not_, errors)
            return never, sure
        case (
            AttributeCondition()
            | CountCondition()
            | AggregateCondition()
            | NoneCondition()
            | LastCondition()
            | LabelCondition()
            | StageCondition()
        ):
            exact = f"coalesce({c.condition(cond)}, FALSE)"
            return exact, q.negate(exact)
        case _:
            assert_never(cond)
