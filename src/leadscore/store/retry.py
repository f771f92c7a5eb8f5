"""Running a unit of work again when the database asks for it (a lock timeout, a deadlock).

One copy of the policy for every writer of a store: `LeadStore.transact` in this process and the
bulk writer program (`leadscore.bulk.adbc_writer`), which runs in a process of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

ATTEMPTS = 8
FIRST_WAIT_S = 0.05  # doubled after each attempt: 0.05 s ... 6.4 s, about 13 s in all


def retrying(work: Callable[[], T], retryable: Callable[[BaseException], bool], attempts: int = ATTEMPTS) -> T:
    """`work()`, called again (after a growing pause) while it raises an exception `retryable` accepts.

    `work` must have no effect when it fails, so that running it again is always safe; the last
    attempt's exception, or any other, propagates as it is."""
    for attempt in range(attempts):
        try:
            return work()
        except Exception as exc:
            if attempt == attempts - 1 or not retryable(exc):
                raise
            time.sleep(FIRST_WAIT_S * (2**attempt))
    raise AssertionError("unreachable")


def sqlite_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "busy": another connection holds the write lock."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text
