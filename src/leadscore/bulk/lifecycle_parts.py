"""The parts a lifecycle rescore runs over: disjoint ranges of lead ids, each a store query.

`model apply` / `refresh` of a model with a lifecycle or triggers holds, per lead, every event it
exported, the replay's tables and the history pass's rows: over a whole store of 1M leads x 50 events
that passed 15 GiB. Run part by part (`writeback._rescore_parts`), memory is bounded by the part.

The bounds are read from the store itself (every `size`-th id in the store's own order), and each
part compares ids with the same operators, so the parts cover every lead exactly once in any
collation, and a lead's events, stored result and history always fall in one part.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from leadscore.sql import literals as q

if TYPE_CHECKING:
    from collections.abc import Iterator

    from leadscore.store.base import LeadStore


def bounds(store: LeadStore, ids: str | None, size: int) -> list[str]:
    """Every `size`-th lead id (the first included) of the leads `ids` selects (default: every lead),
    in the store's order of ids."""
    if size < 1:
        raise ValueError(f"a part holds at least one lead, not {size}")
    where = f" WHERE id IN ({ids})" if ids is not None else ""
    sql = (
        f"SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM leads{where}) AS t "
        f"WHERE (n - 1) % {int(size)} = 0 ORDER BY id"
    )
    with store.read() as conn:
        # on the driver's cursor without parameters: `ids` and the modulo may hold `%`
        raw: Any = conn.connection.driver_connection
        cur = raw.cursor()
        try:
            cur.execute(sql)
            return [str(r[0]) for r in cur.fetchall()]
        finally:
            cur.close()


def part_queries(starts: list[str], ids: str | None) -> list[str]:
    """One store query of lead ids per part: from each start to the next one. The first part has no
    lower bound and the last no upper one, so a lead added since the bounds were read still falls in
    exactly one part."""
    out = []
    for k in range(len(starts)):
        where = []
        if k > 0:
            where.append(f"id >= {q.text(starts[k])}")
        if k + 1 < len(starts):
            where.append(f"id < {q.text(starts[k + 1])}")
        if ids is not None:
            where.append(f"id IN ({ids})")
        out.append("SELECT id FROM leads" + (f" WHERE {' AND '.join(where)}" if where else ""))
    return out


def lead_parts(store: LeadStore, ids: str | None, size: int) -> list[str] | None:
    """The part queries of the leads `ids` selects, at most `size` leads each (when read); None when
    they fit in one part (the rescore then runs once over `ids` as it is)."""
    starts = bounds(store, ids, size)
    if len(starts) < 2:
        return None
    return part_queries(starts, ids)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """The objects alive now (modules, the model, the store, the caller's) left out of the garbage
    collections made meanwhile (`gc.freeze`), after one collection: those between parts, which free
    a part's tables (a cycle can hold them), then walk only what the parts made. Each walked every
    object of the process: 0.05-0.12 CPU s a part, in the process that writes and in the one that
    prepares. They are collected as before once it ends (`gc.unfreeze`)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def paused_collections() -> Iterator[None]:
    """Automatic garbage collections paused (`gc.disable`) meanwhile: for a pass that makes objects by
    the hundred thousand (the history pass: results, changes, firings, decoded JSON) and no cycles,
    which their reference counts free. Each of its allocations counted towards a collection: at
    100,000 leads x 50 events, 2,000 young collections and a dozen whole ones, which walked every
    object the parts made since `frozen_heap` (the firings kept among them). What a cycle might
    still hold goes at the collection after the part (`writeback._rescore_parts`)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()

