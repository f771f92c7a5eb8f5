"""SQLite: the results' secondary indexes left out of a lifecycle apply's writes and built again at its end.

The apply in parts (`writeback._rescore_parts`) upserts most leads' rows when a model changes (90,800 of
100,000 in the b2b example's apply over a rules-only store): each moved row is taken out of and put back
into each secondary index of `results` whose columns it changes (the queue's and the stage queue's by
score, the next change's), one B-tree search at random per index and row. Built once from the written
table instead (a sort of every row's key), the three cost less than those moves once most rows move:
90 % of 100,000 rows' score, queue rank, stage and next change updated in a copy of the store, in a
transaction rolled back, the two alternated twice (load 6.3-6.5): 0.74 / 0.81 CPU s with the indexes
kept, 0.21 / 0.21 without them plus 0.35 / 0.29 to build them again. The moves grow faster than the
table: the same over a table of 1M such rows (the store's 100,000 results ten times over, in random
order; load 5.2-6.1), 23.2 / 22.7 CPU s kept, 4.5 / 4.4 without plus 5.5 / 5.2 to build.

So the indexes are dropped once the first part showed that most of its leads changed (`worth_it`), and
made again from their own stored SQL before the transaction commits (`rebuild`): the same schema, the
same entries. Both run inside the apply's one write transaction: another connection never sees the
store without them (it reads the last commit), and a rollback (an error, a retry) brings them back as
they were. Nothing the apply reads goes through them: its look-ups of stored results are by rowid or
by lead id (the primary key's own index, which stays).
"""

from __future__ import annotations

from typing import Any

from leadscore.sql import literals as q

# the share of a part's leads whose result changed from which the rest of the apply drops the indexes:
# below, the moves may cost less than a build, which reads every row of the table whatever moved (from
# the figures above, the two cost the same at about half the rows moved at 100,000 leads, a quarter at 1M)
MOVED_SHARE = 0.5
TABLE = "results"


def secondary(raw: Any) -> list[tuple[str, str]]:
    """(name, CREATE statement) of each index on `results` made by a CREATE INDEX that is not UNIQUE, in
    the order they were made: not the primary key's own (SQLite makes and names it: no SQL), which the
    writes look leads up by, nor a unique one, whose check each write must make as it goes (built at the
    end, a duplicate would only fail the build)."""
    cur = raw.execute(
        "SELECT m.name, m.sql FROM sqlite_master AS m JOIN pragma_index_list(?) AS i ON i.name = m.name "
        'WHERE NOT i."unique" AND m.sql IS NOT NULL ORDER BY m.rowid',
        (TABLE,),
    )
    try:
        return [(str(name), str(sql)) for name, sql in cur.fetchall()]
    finally:
        cur.close()


def worth_it(leads: int, changed: int) -> bool:
    """Whether a part whose `changed` of `leads` leads got a new result predicts an apply that moves most rows."""
    return leads > 0 and changed >= MOVED_SHARE * leads


def drop(raw: Any) -> list[tuple[str, str]]:
    """The secondary indexes of `results` dropped, in the caller's write transaction; what `rebuild` makes again."""
    found = secondary(raw)
    for name, _ in found:
        raw.execute(f"DROP INDEX {q.ident(name)}")
    return found


def rebuild(raw: Any, dropped: list[tuple[str, str]]) -> None:
    """The indexes `drop` dropped, made again from their stored SQL, in the same order."""
    for _, sql in dropped:
        raw.execute(sql)
