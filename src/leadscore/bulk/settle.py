"""Writers that ran beside a bulk `model apply` or `refresh`: their leads rescored again, none lost.

The bulk paths read every lead first (the export, or the in-database statement's snapshot) and write
the results later. Another writer can land in between: an event stored and scored by the real-time
path (under the model still active), a lead's attributes changed, two leads merged, a lead erased.
Left alone, the bulk write either overwrites that writer's result with one computed without its
change (when the other writer's clock is behind the apply's), or leaves it in place, computed under
the old model (its result is newer than the apply's time, which the write does not overwrite): after
the apply commits, the store would hold a new active model over a result of the old one, or a score
that leaves out a stored event. Nothing would ever tell.

So, as the file ingest does for its queued leads (`bulk.queued`):
- `marks` reads, before the export, the highest numbers of the logs a writer appends to (events,
  attribute changes, score history); on PostgreSQL it first waits for the writers in flight, whose
  numbers may be below the highest committed one (`queued.settled_last_seq`);
- `late_statements`, run in the write transaction just before it commits, queue every lead that
  another writer touched since (`pending_rescore`), and remove what the write stored for a lead that
  is gone (erased, or merged into another: its rows would outlive the person);
- `settle` rescores the leads it queued, with the pure scorer under the model now active, at the
  time it runs (after the events that made them late), and unqueues them.
Until `settle` runs, a queued lead reads as not current.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from leadscore.store import pending
from leadscore.store.pipeline import Rescored
from leadscore.store.tables import pending_rescore

if TYPE_CHECKING:
    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator

# the tables a bulk write fills for a lead, which must not keep rows of a lead that is gone
_LEAD_ROWS = ("score_history", "stage_history", "outbox", "result_basis", "pending_rescore", "results")
_GONE = "_ls_gone"
SETTLE_LEADS = 500  # leads per transaction of `settle`


@dataclass(frozen=True)
class Marks:
    events: int  # highest events.seq
    attributes: int  # highest lead_attribute_history.id
    history: int  # highest score_history.id
    erasures: int = 0  # highest erasures.id

    def after(self, store: LeadStore, log: str) -> str:
        """SQL for the number above which a row of `log` ("events", "attributes", "history") came
        after these marks. On SQLite an erasure since may have removed the highest rows, whose
        numbers the next rows take again: the lowest floor an erasure since recorded then."""
        mark = int(getattr(self, log))
        if store.name == "postgres":  # sequences never go back
            return str(mark)
        since = f"SELECT min({log}_floor) FROM erasures WHERE id > {int(self.erasures)}"
        return f"min({mark}, coalesce(({since}), {mark}))"


def marks(store: LeadStore) -> Marks:
    """The logs' highest numbers, every number up to them committed. On SQLite writers take turns: the
    highest committed number is it. On PostgreSQL a number is taken at insert and seen at commit: a
    SHARE lock waits for the transactions that inserted rows (they hold ROW EXCLUSIVE until they end),
    and is released at once; numbers taken after it are higher."""

    def work(conn: sa.Connection) -> Marks:
        if store.name == "postgres":
            conn.exec_driver_sql("LOCK TABLE events, lead_attribute_history, score_history IN SHARE MODE")
        row = conn.exec_driver_sql(
            "SELECT (SELECT coalesce(max(seq), 0) FROM events), (SELECT coalesce(max(id), 0) FROM "
            "lead_attribute_history), (SELECT coalesce(max(id), 0) FROM score_history), "
            "(SELECT coalesce(max(id), 0) FROM erasures)"
        ).one()
        return Marks(int(row[0]), int(row[1]), int(row[2]), int(row[3]))

    return store.transact(work)


def late_statements(store: LeadStore, seen: Marks, at: int, cause: str) -> list[sa.Executable]:
    """In the bulk write's transaction, last: remove the rows of leads that are gone, and queue (since
    `at`) the leads another writer touched after `seen`: a later event, attribute change or score
    history row not of this write's `cause`, or a result evaluated after `at` (the write left it
    alone: it may be under the old model)."""
    statements: list[sa.Executable] = []
    if store.name == "postgres":
        # the writers in flight end first (an event numbered below a committed one may be in one) and
        # the next ones wait for the commit: their model check then sees the new model
        statements.append(sa.text("LOCK TABLE events IN SHARE MODE"))
        statements.append(sa.text(f"DROP TABLE IF EXISTS {_GONE}"))
        create = f"CREATE TEMP TABLE {_GONE} ON COMMIT DROP AS "
    else:
        statements.append(sa.text(f"DROP TABLE IF EXISTS temp.{_GONE}"))
        create = f"CREATE TEMP TABLE {_GONE} AS "
    orphans = "SELECT r.lead_id FROM results AS r WHERE NOT EXISTS (SELECT 1 FROM leads AS l WHERE l.id = r.lead_id)"
    statements.append(sa.text(create + orphans))
    statements.extend(
        sa.text(f"DELETE FROM {table} WHERE lead_id IN (SELECT lead_id FROM {_GONE})") for table in _LEAD_ROWS
    )
    statements.append(sa.text(f"DROP TABLE {_GONE}"))
    statements.append(
        sa.text(
            "INSERT INTO pending_rescore (lead_id, since) SELECT DISTINCT c.lead_id, :at FROM ("
            f"SELECT lead_id FROM events WHERE seq > {seen.after(store, 'events')} "
            f"UNION ALL SELECT lead_id FROM lead_attribute_history WHERE id > {seen.after(store, 'attributes')} "
            f"UNION ALL SELECT lead_id FROM score_history WHERE id > {seen.after(store, 'history')} "
            "AND cause <> :cause UNION ALL SELECT lead_id FROM results WHERE evaluated_at > :at) AS c "
            "WHERE EXISTS (SELECT 1 FROM leads AS l WHERE l.id = c.lead_id) "
            "AND NOT EXISTS (SELECT 1 FROM pending_rescore AS q WHERE q.lead_id = c.lead_id)"
        ).bindparams(at=int(at), cause=cause)
    )
    return statements


def settle(store: LeadStore, evaluator: Evaluator, now: Callable[[], int], at: int, cause: str) -> Rescored:
    """Rescore the leads `late_statements` queued (since `at`) with the pure scorer at `now()`, and
    unqueue them, a few hundred per transaction. On PostgreSQL the queue rows a drain holds are
    skipped, as drains skip each other's: that drain scores and unqueues them (or, having scored them
    under the old model, leaves them queued for the next)."""
    take = (
        sa.select(pending_rescore.c.lead_id)
        .where(pending_rescore.c.since == int(at))
        .order_by(pending_rescore.c.lead_id)
        .limit(SETTLE_LEADS)
    )
    if store.name == "postgres":
        take = take.with_for_update(skip_locked=True)
    total = Rescored()
    after = ""  # leads in id order: a lead the pure scorer leaves queued is not taken again

    def work(conn: sa.Connection) -> tuple[list[str], Rescored]:
        ids = [str(i) for i in conn.execute(take.where(pending_rescore.c.lead_id > after)).scalars()]
        if not ids:
            return ids, Rescored()
        store.lock_leads(conn, ids)
        done = evaluator.rescore(store, conn, ids, now(), cause)
        pending.clear(conn, ids)
        return ids, done

    while True:
        ids, done = store.transact(work)
        if not ids:
            return total
        after = ids[-1]
        total.leads += done.leads
        total.changed += done.changed
        total.firings.extend(done.firings)
