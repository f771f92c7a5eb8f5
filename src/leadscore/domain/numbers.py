"""The numbers leadscore accepts, in data and in models alike: finite, and at most 2**53 in magnitude.

Why a range at all: every engine must agree with the pure scorer. Past 2**53 a double no longer
holds every integer, so the SQL engines (which read numbers as DOUBLE) and Python (exact integers)
would compare large whole numbers differently; near the top of the double range two amounts of
1e308 already add up to infinity, which Python's exact sum refuses and PostgreSQL reports as an
error. Within +-2**53 no sum of a lead's values or points can leave the double range, so every
engine computes the same finite sums. NaN, Infinity and numbers beyond the range (JSON `1e309`,
YAML `.inf`, `.nan`) are refused where they enter, with where they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

MAX_MAGNITUDE = 2**53  # 9007199254740992: the largest magnitude below which every integer is a double
RANGE_TEXT = "from -9007199254740992 to 9007199254740992 (2**53)"


def is_plain_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_problem(value: Any) -> str | None:
    """Why `value` is not an accepted number (None when it is one, or is no number at all)."""
    if not is_plain_number(value):
        return None
    if isinstance(value, float) and math.isnan(value):
        return "not a number (NaN); numbers must be finite"
    if isinstance(value, float) and math.isinf(value):
        sign = "-" if value < 0 else ""
        too_large = f"or a number too large for a double, such as {sign}1e309"
        return f"{sign}Infinity ({too_large}) is not accepted; numbers must be finite"
    if abs(value) > MAX_MAGNITUDE:
        shown = (
            repr(value)
            if isinstance(value, float) or abs(value) < 10**30
            else f"an integer of {len(str(value))} digits"
        )
        return f"{shown} is out of range: numbers must lie {RANGE_TEXT}"
    return None


def bad_numbers(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, problem) of every unaccepted number in `value`, nested objects and lists included;
    paths like `amount`, `items[2].price`."""
    problem = number_problem(value)
    if problem is not None:
        yield path, problem
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from bad_numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from bad_numbers(v, f"{path}[{i}]")


def check_number(value: Any) -> Any:
    """`value` unchanged when it is no number or an accepted one; else ValueError saying why."""
    problem = number_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


_SCALE = 2.0**64


def exact_sum(values: list[float]) -> float:
    """`math.fsum`, the exactly rounded sum, without its exceptions: a sum beyond the double range
    is +-inf (as DuckDB and Spark give it) instead of OverflowError, and Infinity minus Infinity is
    NaN instead of ValueError. Accepted data never gets there (see the module docstring); a value
    stored before the range was enforced, or handed to the library directly, must not crash a
    scorer that every lead of a store goes through."""
    try:
        return math.fsum(values)
    except OverflowError:
        # fsum overflows in its partial sums even when the exact sum fits (1e308 + 1e308 - 1e308):
        # scaled by a power of two (exact), it cannot; scaled back, it rounds to the sum or to +-inf
        return math.fsum([v / _SCALE for v in values]) * _SCALE
    except ValueError:  # inf + -inf
        return math.nan
