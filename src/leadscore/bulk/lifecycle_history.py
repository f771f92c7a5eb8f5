"""Stage history and trigger firings of the leads the batch engine replayed, finished in Python.

The batch engine's replay in SQL (`sql.stage_replay`) computes, for each lead it replays, every automatic
transition's condition at each of the lead's event times and at T (`_ls_conds`, kept as
`history_staging.CONDS`). With those, the replay of `engine.lifecycle_replay.CompiledLifecycle.replay`
needs no scoring at all: `condition_replay.replay` walks the lead's events in log order and reads the
conditions instead of evaluating them, giving the same stage and the same history (times, causes, event
ids). From the query's row, that history and the stored result, the stored rows follow as the pure path
writes them: `results_repo.stage_move_rows` for the stage-history rows (made for a part at once:
`stage_rows`) and `triggers.detect_triggers` for the outbox, with the score at T - within from the batch
engine's run at that time (`store_lifecycle`).

Works through the leads in parts of `history_staging.PART` inside the write transaction (their stored results read
there, under their locks), so memory stays bounded and the results read are the ones replaced. What
DuckDB gives for them is computed once for all the parts, sorted by part (`history_staging.stage`,
`lifecycle_walk.prepare`), and the replay walks only the rows that can move a stage
(`lifecycle_walk.Walker`, run over all the leads of a chunk at once: `walk_part`); `condition_replay.replay`,
over every event, is the reference the tests compare it with. The walk's changes stay columns
(`StageColumns`): the history texts and stage rows are made from them, and the firings of the leads
with no previous result to compare with are found for the chunk at once (`first_firings`); only the
other leads get a `Result` (`history_results.row_result`) and `detect_transitions`.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from leadscore.bulk.history_json import (
    AtText,
    breakdown_dicts,
    history_texts,
    payload_batch,
    result_text,
    result_texts,
    with_breakdown,
)
from leadscore.bulk.history_results import bare_firing, history_of, made_playbook, made_time, row_result, score_before
from leadscore.bulk.history_staging import Staged, part_sql
from leadscore.bulk.lifecycle_parts import paused_collections
from leadscore.bulk.lifecycle_walk import Walker, part_rows
from leadscore.bulk.stage_rows import stage_rows
from leadscore.bulk.stored_results import stored_results
from leadscore.bulk.walk_part import Changes, Tables, walk_part
from leadscore.domain.result import Result, StageColumns
from leadscore.store.events_repo import json_value
from leadscore.triggers import first_firings, score_hits
from leadscore.triggers.firings import Fired, TriggerFiring, detect_transitions, firing
from leadscore.triggers.first_firings import first_transitions

if TYPE_CHECKING:
    import duckdb
    from sqlalchemy.engine import Connection

    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator

__all__ = ["Finished", "finish"]


class Finished(NamedTuple):
    """What `finish` gives the write: the firings, the leads handed back, the stage history texts.

    The texts go straight into the rows the write loads (`write.write_rows`), by lead: through a
    DuckDB table and an UPDATE of the shaped rows, each part's texts were made an Arrow table (DuckDB
    imports pandas to take one: 0.3 CPU s once), inserted, and the rows rewritten."""

    firings: list[TriggerFiring]
    disagree: list[str]
    histories: dict[str, str]


def finish(
    store: LeadStore,
    conn: Connection,
    con: duckdb.DuckDBPyConnection,
    evaluator: Evaluator,
    at: int,
    cause: str,
    staged: Staged,
    payloads: bool = True,
) -> Finished:
    """For each lead of LEADS (`history_staging.stage`): its replay, its stage-history rows and outbox messages
    written (unless its stored result is newer than `at`: then the bulk write leaves it alone too).
    Reads only LEADS, ROWS_TABLE and WALK of `con`. Returns the firings, the leads whose replay here
    ends in another stage than the query's (none is expected: both fold the same conditions; the
    caller has the pure scorer rescore them) and each replayed lead's stage history text, which the
    write puts in its row (`write.write_rows`' `histories`). `payloads`: the firings returned carry
    their whole payloads; without, what their payloads hold is unspecified (the rescore in parts
    drops them, `writeback._counted`).

    On SQLite and PostgreSQL the outbox rows get their payloads as JSON text made here (`payload_batch`: a
    lead's result encoded once for all its firings, a part's payloads made together), not dicts the insert
    encodes one by one."""
    from leadscore.bulk.lifecycle_split import score_windows
    from leadscore.store.outbox_repo import enqueue, enqueue_encoded
    from leadscore.store.results_repo import insert_many
    from leadscore.store.tables import stage_history

    model = evaluator.model
    lc = evaluator.scorer.lifecycle
    windows = score_windows(evaluator)
    names, words, n_parts = staged.names, staged.words, staged.n_parts
    walker = Walker(lc) if lc is not None and staged.walk else None
    tables = Tables(walker) if walker is not None else None
    # leads with no previous result to compare with have their firings found for the part at once
    one_pass = first_firings.applies(model)
    firings: list[TriggerFiring] = []
    disagree: list[str] = []
    histories: dict[str, str] = {}
    encoded = store.bulk  # SQLite, PostgreSQL: the outbox's payloads as text (`payload_batch`, `enqueue_encoded`)
    fire = evaluator.fire_triggers
    slots = {w: k for k, w in enumerate(windows)}  # a trigger's window: which `_before` column
    at_text = AtText()
    made: dict[Any, Any] = {}  # `row_result`'s
    playbook_of, at_of = functools.partial(made_playbook, made), functools.partial(made_time, made)
    with paused_collections():  # no cycles made: reference counts free it all (`paused_collections`)
        for k in range(n_parts):
            table = con.sql(part_sql(names, k, encoded, encoded and not payloads)).to_arrow_table()
            ns = table.column(0).to_pylist()
            cols = dict(zip(names, (table.column(i + 1).to_pylist() for i in range(len(names))), strict=True))
            spaced = table.column(len(names) + 1).to_pylist()  # the payload's breakdown (`part_sql`)
            part: list[str] = cols["lead_id"]
            firsts, inits, stages = cols["_first"], cols["_init"], cols["stage"]
            befores = [cols[f"_before{w}"] for w in range(len(windows))]
            # the score_changed tests of the whole part as arrays: a lead none holds for skips them
            quiet = []
            if fire:
                quiet = score_hits.quiet(model, cols["score"], dict(zip(windows, befores, strict=True))).tolist()
            store.lock_leads(conn, part)
            previous = stored_results(conn, part)
            changes = _walked(walker, tables, con, k, words, ns, firsts, inits, at)
            first, finals = changes.first, changes.stage
            columns = StageColumns(changes.to, changes.previous, changes.cause, changes.event_id, changes.t)
            texts_of = history_texts(columns, first)
            moving: list[int] = []  # the leads whose stage-history rows are written, and their stored rows
            moving_rows: list[dict[str, Any] | None] = []
            lane: list[int] = []  # leads whose firings `first_transitions` gives (no previous result)
            # each firing lead's result (None: the lane's, not made) and transitions
            found_of: dict[int, tuple[Result | None, list[Fired]]] = {}
            versions, evaluated = cols["model_version"], cols["evaluated_at"]
            for i, lead in enumerate(part):
                stored = previous.get(lead)
                if stored is not None and stored.evaluated_at > at:
                    continue  # rescored meanwhile by a newer change: left alone, as its result row is
                if walker is not None and finals[i] != stages[i]:
                    disagree.append(lead)
                    continue
                lo, hi = first[i], first[i + 1]
                histories[lead] = texts_of[i]
                if stages[i] is not None:
                    moving.append(i)
                    moving_rows.append(stored.row if stored is not None else None)
                if not fire:
                    continue
                # another model's labels and stages are not this model's transitions
                ours = stored is not None and versions[i] == stored.model_version
                prev = stored.result if stored is not None and (ours or stored.model == cols["model"][i]) else None
                if prev is None and quiet[i] and one_pass:
                    lane.append(i)
                    continue
                # the stage moves and the trigger tests do not read the breakdown (the largest JSON): it
                # is read only for a lead that fires, whose payload carries the whole result
                result = row_result(cols, i, history_of(columns, lo, hi), made)
                if quiet[i]:
                    found = detect_transitions(model, prev, result, scores_quiet=True)
                else:
                    before = score_before(slots, [b[i] for b in befores])
                    found = detect_transitions(model, prev, result, score_before_window=before)
                if found:
                    found_of[i] = (result, found)
            fired: list[TriggerFiring] = []
            if lane:
                # a part's leads share a few label texts: each decoded once (`first_transitions` only reads)
                decoded: dict[str, Any] = {}
                texts_in = cols["labels"]
                labels: dict[int, Any] = {}
                for i in lane:
                    got = decoded.get(texts_in[i])
                    if got is None:
                        got = decoded[texts_in[i]] = json_value(texts_in[i])
                    labels[i] = got
                at_dt = made_time(made, evaluated[lane[0]])
                for i, got in first_transitions(model, lane, part, at_dt, labels, columns, first).items():
                    found_of[i] = (None, got)
            order = sorted(found_of)
            # the lane's leads (no `Result` made) when only the payloads' texts are wanted: their
            # results' texts from the part's columns, all at once (`result_texts`)
            bare = [i for i in order if found_of[i][0] is None] if encoded and not payloads else []
            bare_texts = dict(zip(bare, result_texts(bare, cols, spaced, playbook_of, at_of, at_text), strict=True))
            # with `encoded`: every firing of the part, its lead and its lead's result text, for one
            # `payload_batch` of their payloads' texts, in the order of `fired`
            flat: list[Fired] = []
            flat_leads: list[str] = []
            flat_results: list[str] = []
            for i in order:
                kept, found = found_of[i]
                lead = part[i]
                whole_text = bare_texts.get(i)
                if whole_text is not None:  # the lane's: no `Result` made
                    fired += [bare_firing(f, lead) for f in found]
                else:
                    whole = kept if kept is not None else row_result(cols, i, [], made)
                    if encoded:
                        whole_text = result_text(whole, cols["breakdown"][i], at_text, spaced[i])
                    if payloads or not encoded:
                        breakdown = breakdown_dicts(cols["breakdown"][i])
                        fired += with_breakdown([firing(f, whole) for f in found], breakdown)
                    else:  # the outbox rows' columns but their payload (`payloads`)
                        fired += [firing(f, whole, bare=True) for f in found]
                if whole_text is not None:
                    flat += found
                    flat_leads += [lead] * len(found)
                    flat_results += [whole_text] * len(found)
            texts = payload_batch(flat, flat_leads, flat_results, at_text) if encoded else []
            moves = stage_rows(moving, part, versions, stages, evaluated, moving_rows, columns, first, cause)
            insert_many(conn, stage_history, moves)  # on the driver, as the pure path writes them
            if encoded:
                enqueue_encoded(conn, fired, texts, at)
            else:
                enqueue(store, conn, fired, at)
            firings += fired
    return Finished(firings, disagree, histories)


def _walked(
    walker: Walker | None,
    tables: Tables | None,
    con: duckdb.DuckDBPyConnection,
    part: int,
    words: int,
    ns: list[int],
    firsts: list[int | None],
    inits: list[str | None],
    at: int,
) -> Changes:
    """The walk of each lead of a part (its number `ns[i]` in WALK, its first event's time, its initial
    stage): `walk_part` over the part's rows, lead by lead `Walker.walk` where it cannot (masks of more
    than one word). No lifecycle: no changes."""
    n = len(ns)
    if walker is None or tables is None:
        return Changes([0] * (n + 1), [], [], [], [], [], [])
    row_ns, cols = part_rows(con, part, words)
    # each row's lead: rows of a lead no longer in LEADS (handed to the pure scorer on a first try): -1
    numbers, rows = np.asarray(ns, dtype=np.int64), np.asarray(row_ns, dtype=np.int64)
    at_lead = np.minimum(np.searchsorted(numbers, rows), max(n - 1, 0))
    lead_of = np.where((numbers[at_lead] == rows) if n else np.zeros(len(rows), dtype=bool), at_lead, -1)
    starts = [at if f is None else int(f) for f in firsts]
    stages = [s or walker.initial for s in inits]
    got = walk_part(tables, stages, starts, lead_of, cols)
    if got is not None:
        return got
    out = Changes([0], [], [], [], [], [], [])
    bounds = np.searchsorted(lead_of, np.arange(n + 1)).tolist() if len(rows) else [0] * (n + 1)
    for i in range(n):  # (lead_of is sorted but for the -1 rows, which searchsorted may not skip)
        lo, hi = _rows_of(lead_of, i, bounds)
        times: list[int] = []
        stage, history = walker.walk(stages[i], starts[i], cols, lo, hi, times)
        out.t.extend(times)
        out.to.extend(c.stage for c in history)
        out.previous.extend(c.previous for c in history)
        out.cause.extend(c.cause for c in history)
        out.event_id.extend(c.event_id for c in history)
        out.stage.append(stage)
        out.first.append(len(out.t))
    return out


def _rows_of(lead_of: np.ndarray, i: int, bounds: list[int]) -> tuple[int, int]:
    """The rows lo..hi-1 of lead i (its rows are together, in order; -1 rows lie between leads)."""
    lo = bounds[i]
    while lo < len(lead_of) and lead_of[lo] != i and lead_of[lo] < i:
        lo += 1
    hi = lo
    while hi < len(lead_of) and lead_of[hi] == i:
        hi += 1
    return lo, hi
