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


# The last two parts' worth of leads cut into three parts of 40, 30 and 30 % (`part_sizes`). The parts are
# prepared by two processes ahead while this one runs each part's history pass and write, in order
# (`lifecycle_ahead.Preparers`); once both preparing processes are done, the write of what is left runs
# alone on one core of two. With equal parts that was the last part whole (at 1M leads x 50 events in
# parts of 100,000: its history pass and write, 8-9 CPU s), and one preparing process alone before it
# while the other had no part left. Smaller last parts shorten both; the first parts stay whole: a part
# costs its preparing process a fixed share (the statements' planning, its stored rows read), so the
# parts are not made smaller all along, and none is larger than `size` (memory is bounded by it).
TAIL = (4, 3, 3)


def part_sizes(total: int, size: int) -> list[int]:
    """Leads per part for `total` leads in parts of at most `size`: whole parts, then the leads of the
    last two parts (more than `size`) in three parts of TAIL's shares, the smaller ones last; as
    before (whole parts and what is left) when that makes fewer than three parts or a part empty."""
    if size < 1:
        raise ValueError(f"a part holds at least one lead, not {size}")
    n = -(-total // size)
    tail = total - (n - 2) * size
    if n < 3 or tail < len(TAIL):
        return [size] * (n - 1) + [total - (n - 1) * size] if n else []
    cut = [max(1, tail * share // sum(TAIL)) for share in TAIL[:-1]]
    return [size] * (n - 2) + sorted([*cut, tail - sum(cut)], reverse=True)


def bounds(store: LeadStore, ids: str | None, size: int) -> list[str]:
    """The first lead id of each part (`part_sizes`: at most `size` leads each) of the leads `ids`
    selects (default: every lead), in the store's order of ids."""
    if size < 1:
        raise ValueError(f"a part holds at least one lead, not {size}")
    where = f" WHERE id IN ({ids})" if ids is not None else ""
    with store.read() as conn:
        # on the driver's cursor without parameters: `ids` may hold `%`
        raw: Any = conn.connection.driver_connection
        cur = raw.cursor()
        try:
            cur.execute(f"SELECT count(*) FROM leads{where}")
            total = int(cur.fetchall()[0][0])
            firsts = [1]  # each part's first row number
            for n in part_sizes(total, size)[:-1]:
                firsts.append(firsts[-1] + n)
            cur.execute(
                f"SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM leads{where}) AS t "
                f"WHERE n IN ({', '.join(str(n) for n in firsts)}) ORDER BY id"
            )
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
