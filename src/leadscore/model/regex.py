"""`matches:` patterns: RE2 syntax and semantics, evaluated in time linear in the text.

Python's `re` backtracks, so `^(a+)+$` takes exponential time on a line of a's that does not match:
one bad pattern in a model could stall scoring for every lead. RE2 never backtracks (time linear in
the text, memory bounded per pattern) and is the engine of DuckDB's `regexp_matches`, so the pure
scorer and the in-database paths read a pattern the same way. What RE2 cannot do in linear time
(backreferences, lookaround, possessive quantifiers) does not compile, and `leadscore validate`
reports it at the pattern's line.

Semantics, as docs/model-format.md states them: the pattern is searched anywhere in the text
(anchor it with `^` and `$`); `$` matches only at the very end of the text (not before a final
newline, unlike Python); `.` does not match a newline; `\\d`, `\\w`, `\\s` and `\\b` are ASCII;
`(?i)` folds case by Unicode simple folding.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

from leadscore.model.limits import MAX_PATTERN_CHARS


class PatternError(ValueError):
    """A `matches:` pattern that cannot be used; the message says why."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the reason is reported to the user, not written to stderr
    return options


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 program of `pattern` (cached: models are compiled more than once)."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"regular expression longer than {MAX_PATTERN_CHARS:,} characters (the limit)")
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(
            f"not a valid RE2 regular expression: {reason} (backreferences and lookaround are not supported)"
        ) from None


def searcher(pattern: str) -> Any:
    """`text -> bool`: does `pattern` match anywhere in the text (RE2 semantics)."""
    search = compile_pattern(pattern).search
    return lambda text: search(text) is not None
