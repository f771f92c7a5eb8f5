"""Ingest: events and leads, in batches, each batch one transaction with its rescoring.

A batch inserts its new events (duplicates by key are skipped, in the batch and against the
store), then rescores the leads that got new events, and writes their results, history and
trigger outbox, all before it commits. A crash loses at most the batch in flight, and running
the same file again completes it without counting anything twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from leadscore.domain import Event, Lead, Result
from leadscore.engine.lifecycle_replay import STAGE_SET
from leadscore.io.errors import RowError
from leadscore.io.limits import id_problem
from leadscore.model.spec import ScoringModel
from leadscore.store import pending
from leadscore.store.base import LeadStore
from leadscore.store.codec import event_of, timeline_id
from leadscore.store.event_columns import EventColumns
from leadscore.store.events_repo import (
    Identity,
    aliases_of,
    event_counts,
    event_row_tuples,
    event_rows,
    identity_of,
    insert_events,
    stored_keys,
)
from leadscore.store.identity import ANONYMOUS_ID, IDENTIFY, identities, merge_into
from leadscore.store.leads_repo import account_of, ensure_locked, resolve_aliases, upsert_attributes
from leadscore.store.pipeline import Evaluator, Prepared
from leadscore.store.realtime_pg import ingest_few, plain_batch
from leadscore.store.results_repo import load_results

Clock = Callable[[], int]  # epoch micros
# leads of a batch up to which their timelines are read back rather than sorted out in memory, and
# events of a batch inserted without looking their keys up first (at most backends.RETURNING_ROWS)
FEW = 16


@dataclass
class BatchOutcome:
    received: int = 0
    inserted: int = 0
    rescored: int = 0
    changed: int = 0
    triggers: int = 0
    pending: int = 0  # leads queued for rescoring (deferred intake), not rescored yet
    # the identities (event key, lead received under) of the events inserted, when asked for
    new_keys: set[Identity] | None = None
    # the results of the batch's leads (by lead id, aliases resolved) as stored by its commit, when asked for
    results: dict[str, Result] | None = None

    def add(self, other: BatchOutcome) -> None:
        self.received += other.received
        self.inserted += other.inserted
        self.rescored += other.rescored
        self.changed += other.changed
        self.triggers += other.triggers
        self.pending += other.pending
        if other.new_keys is not None:
            self.new_keys = (self.new_keys or set()) | other.new_keys
        if other.results is not None:
            self.results = {**(self.results or {}), **other.results}


class ModelChanged(Exception):
    """The store's active model is not the evaluator's (another process applied one): nothing written."""


def ingest_events(
    store: LeadStore,
    evaluator: Evaluator,
    batch: Sequence[Event],
    now: Clock,
    *,
    defer: bool = False,
    new_keys: bool = False,
    check_model: bool = False,
    results: bool = False,
) -> BatchOutcome:
    """Store one batch of events and rescore their leads, in one transaction.

    Events already stored are dropped first (a re-run costs one key look-up per event); each lead
    is scored once, from its events in memory when the batch holds its whole log. With `defer`, the
    leads are queued for rescoring instead (leadscore.store.pending), in the same transaction: the
    events are durable when this returns, their scores follow when the queue is drained.
    `new_keys`: the outcome lists the identities of the events inserted (the group committer shares
    them out between the requests of a commit). `check_model`: before rescoring, check in the
    transaction that the evaluator's model is the store's active one, else raise ModelChanged (the
    caller then loads the active model and runs the batch again). `results`: the outcome holds the
    results of the batch's leads as the transaction stored them, read after its writes (on
    PostgreSQL's real-time path in their round trip); not with `defer`, which scores nothing.
    """
    if results and defer:
        raise ValueError("a deferred ingest scores nothing: no results to read back")

    few_pg = store.name == "postgres" and not defer and len(batch) <= FEW and plain_batch(batch)

    def checked(scored: Prepared) -> None:
        if check_model and scored.active != evaluator.scorer.model_version:
            raise ModelChanged(evaluator.scorer.model_version)

    if few_pg:  # a real-time event: the same statements, two round trips (leadscore.store.realtime_pg)
        new_rows, prepared, stored = ingest_few(evaluator, store, batch, now, _fresh_alone, checked, results)
        keys_few = {identity_of(r) for r in new_rows} if new_keys else None
        if prepared is None:
            return BatchOutcome(len(batch), new_keys=set() if new_keys else None, results=stored)
        done_few = prepared.done
        counts = (done_few.leads, done_few.changed, len(done_few.firings))
        return BatchOutcome(len(batch), len(new_rows), *counts, new_keys=keys_few, results=stored)

    def work(conn: Any) -> BatchOutcome:
        done = general(conn)
        if results:  # after the writes, in the transaction: as it commits them
            leads = resolve_aliases(conn, {e.lead_id for e in batch})
            done.results = load_results(conn, sorted({leads.get(e.lead_id, e.lead_id) for e in batch}))
        return done

    def general(conn: Any) -> BatchOutcome:
        at = now()
        if isinstance(batch, EventColumns):  # plain: no identify event among them
            links: list[tuple[str, str]] = []
            wanted = set(batch.lead_ids)
        else:
            links = identities(batch)
            wanted = {e.lead_id for e in batch} | {lead for _, lead in links}
        # A deferred (bulk) batch is appended whole if none of it is stored, and looked up only if some
        # is: its rows built straight as the driver takes them, dicts only for what follows a refusal
        # or an identify event (rare in a bulk request)
        bulk = defer and len(batch) > FEW
        resolved = aliases_of(conn, wanted) if bulk else resolve_aliases(conn, wanted)
        for anon, lead in links:
            resolved.setdefault(anon, resolved.get(lead, lead))
        if bulk:
            tuples = event_row_tuples(batch, resolved, at)
            targets = {t[1] for t in tuples}
            plain = not new_keys and (isinstance(batch, EventColumns) or all(t[3] != IDENTIFY for t in tuples))
            if plain and store.append_all_new(conn, tuples):
                # Every row new: their leads are the touched ones, created (or found) and locked only
                # now, after the rows. A lead's lock orders the writers of its queue mark against the
                # drain (leadscore.store.pending), and events nobody can read before this commits need
                # none: locked before the rows, PostgreSQL's leads stayed locked through the whole
                # COPY, so that two bulk requests (and the drain's writes) waited for each other's
                # COPY, one at a time, where now they wait for the queue marks only.
                ensure_locked(store, conn, targets, at)
                pending.mark(conn, sorted(targets), at)
                return BatchOutcome(len(batch), len(tuples), pending=len(targets))
            ensure_locked(store, conn, targets, at, also=[anon for anon, _ in links])
            appended = not plain and store.append_all_new(conn, tuples)  # a plain batch was refused above
            rows = event_rows(batch, resolved, at)
            new = rows if appended else insert_events(store, conn, _unstored(conn, rows))
        else:
            rows = event_rows(batch, resolved, at)
            # A few events go straight to the insert, whose conflict clause skips the stored ones: a
            # look-up first would be one more statement per real-time event. A stored event's lead
            # exists already, so creating the leads first changes nothing for a duplicate.
            if len(rows) > FEW:
                rows = _unstored(conn, rows)
            if not rows:
                return BatchOutcome(len(batch), new_keys=set() if new_keys else None)
            ensure_locked(store, conn, {r["lead_id"] for r in rows}, at, also=[anon for anon, _ in links])
            new = insert_events(store, conn, rows)
        if not new:
            return BatchOutcome(len(batch), new_keys=set() if new_keys else None)
        keys = {identity_of(r) for r in new} if new_keys else None
        touched = {r["lead_id"] for r in new}
        merged: set[str] = set()
        for row in new:
            linked = _anon_of(row) if row["type"] == IDENTIFY else None
            if (
                linked is not None
                and linked != row["lead_id"]
                and merge_into(store, conn, row["lead_id"], linked, at, f"identify:{row['event_key']}")
            ):
                touched.add(row["lead_id"])
                merged.add(row["lead_id"])
        if defer:
            pending.mark(conn, sorted(touched), at)
            return BatchOutcome(len(batch), len(new), pending=len(touched), new_keys=keys)
        # a few leads: reading their timelines is one statement, as finding which are new would be
        known = whole_timelines(conn, [r for r in new if r["lead_id"] not in merged]) if len(touched) > FEW else None
        scored = evaluator.prepare(conn, sorted(touched), at, known=known, fresh=_fresh_ids(new, merged))
        # the active model is read with the leads (one statement): checked before anything is written
        if check_model and scored.active != evaluator.scorer.model_version:
            raise ModelChanged(evaluator.scorer.model_version)
        done = evaluator.write(store, conn, scored, at, "event")
        # queued by an earlier deferred intake: now current (the leads' states said which, under their locks)
        pending.clear(conn, sorted(scored.queued))
        return BatchOutcome(len(batch), len(new), done.leads, done.changed, len(done.firings), new_keys=keys)

    return store.transact(work)


def _unstored(conn: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose identities the log does not hold yet (one look-up by key)."""
    stored = stored_keys(conn, [identity_of(r) for r in rows])
    return [r for r in rows if identity_of(r) not in stored] if stored else rows


def whole_timelines(conn: Any, new: Sequence[dict[str, Any]]) -> dict[str, list[Event]]:
    """The timelines of the leads whose every stored event is among `new` (just inserted, in order).

    A lead's events in input order, stably sorted by time, are its log order (time, then seq), so
    these equal what `load_timelines` would read back, without reading it.
    """
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in new:
        grouped[row["lead_id"]].append(row)
    counts = event_counts(conn, list(grouped))
    return {
        lead: sorted((event_of(r) for r in own), key=lambda e: e.ts)
        for lead, own in grouped.items()
        if counts[lead] == len(own)
    }


def _fresh_alone(new: Sequence[dict[str, Any]]) -> dict[str, frozenset[str]]:
    return _fresh_ids(new, set())


def _fresh_ids(new: Sequence[dict[str, Any]], merged: set[str]) -> dict[str, frozenset[str]]:
    """Per lead, the timeline ids of the events just appended (a lead that took in a merge has
    other new events as well: it is replayed in full)."""
    grouped: dict[str, set[str]] = defaultdict(set)
    for row in new:
        if row["lead_id"] not in merged:
            grouped[row["lead_id"]].add(timeline_id(row["event_key"], row["lead_id"], row["received_lead_id"]))
    return {lead: frozenset(ids) for lead, ids in grouped.items()}


def _anon_of(row: dict[str, Any]) -> str | None:
    anon = row["properties"].get(ANONYMOUS_ID)
    return None if anon is None or isinstance(anon, bool) else str(anon)


def ingest_leads(
    store: LeadStore, evaluator: Evaluator, batch: Sequence[Lead], now: Clock, source: str
) -> BatchOutcome:
    """Upsert attributes (changes kept as history) and rescore the leads whose attributes changed."""

    def work(conn: Any) -> BatchOutcome:
        at = now()
        changed = upsert_attributes(store, conn, batch, at, source)
        done = evaluator.rescore(store, conn, changed, at, "attributes")
        return BatchOutcome(len(batch), len(changed), done.leads, done.changed, len(done.firings))

    return store.transact(work)


def event_problems(
    model: ScoringModel, batch: Sequence[Event], lines: Sequence[int], file: str, by_row: bool = False
) -> list[RowError]:
    """Rows that read fine but that the model or the store cannot take: refused like any bad row.
    `by_row`: `lines` are Parquet row numbers."""
    if isinstance(batch, EventColumns):  # plain: of no type checked here
        return []
    stages = set(model.lifecycle.all_stages()) if model.lifecycle else None
    out: list[RowError] = []
    for event, line in zip(batch, lines, strict=True):
        message = column = None
        if event.type == STAGE_SET:
            stage = event.properties.get("stage")
            if stages is None:
                column, message = "type", "stage_set event, but the model has no lifecycle"
            elif stage not in stages:
                column, message = "stage", f"stage {stage!r} names no stage of the model ({', '.join(sorted(stages))})"
        elif event.type == IDENTIFY:
            anon = event.properties.get(ANONYMOUS_ID)
            if anon is None or isinstance(anon, bool) or not isinstance(anon, str | int):
                column, message = ANONYMOUS_ID, "an identify event needs the anonymous id it links, as text"
            elif problem := id_problem(str(anon), "the anonymous id"):  # it becomes a lead id (an alias)
                column, message = ANONYMOUS_ID, problem
        if message is not None:
            out.append(RowError(file, line, column, None, message, by_row, record=event.to_dict()))
    return out


def lead_problems(
    model: ScoringModel, batch: Sequence[Lead], lines: Sequence[int], file: str, by_row: bool = False
) -> list[RowError]:
    stages = set(model.lifecycle.all_stages()) if model.lifecycle else None
    out: list[RowError] = []
    for lead, line in zip(batch, lines, strict=True):
        account = account_of(lead.attributes)
        if account is not None and (problem := id_problem(account, "the account")):
            column = "account" if "account" in lead.attributes else "email"  # where account_of found it
            out.append(RowError(file, line, column, None, problem, by_row, record={"id": lead.id, **lead.attributes}))
        elif stages is not None and "stage" in lead.attributes and lead.attributes["stage"] not in stages:
            message = f"stage {lead.attributes['stage']!r} names no stage of the model ({', '.join(sorted(stages))})"
            out.append(
                RowError(
                    file,
                    line,
                    "stage",
                    lead.attributes["stage"],
                    message,
                    by_row,
                    record={"id": lead.id, **lead.attributes},
                )
            )
    return out
