"""Stage history and trigger firings of the leads the batch engine replayed, finished in Python.

The batch engine's replay in SQL (`sql.stage_replay`) computes, for each lead it replays, every automatic
transition's condition at each of the lead's event times and at T (`_ls_conds`, kept here as
CONDS). With those, the replay of `engine.lifecycle_replay.CompiledLifecycle.replay` needs no scoring at all:
`replay` below walks the lead's events in log order and reads the conditions instead of evaluating
them, giving the same stage and the same history (times, causes, event ids). From the query's row,
that history and the stored result, the stored rows follow as the pure path writes them:
`results_repo.stage_move_rows` for the stage-history rows (made for a part at once: `stage_rows`) and
`triggers.detect_triggers` for the outbox, with the score at T - within from the batch engine's run at
that time (`store_lifecycle`).

Works through the leads in parts of `PART` inside the write transaction (their stored results read
there, under their locks), so memory stays bounded and the results read are the ones replaced. What
DuckDB gives for them is computed once for all the parts, sorted by part (`_per_lead`,
`lifecycle_walk.prepare`), and the replay walks only the rows that can move a stage
(`lifecycle_walk.Walker`, run over all the leads of a chunk at once: `walk_part`); `replay` below, over
every event, is the reference the tests compare it with. The walk's changes stay columns
(`StageColumns`): the history texts and stage rows are made from them, and the firings of the leads
with no previous result to compare with are found for the chunk at once (`first_firings`); only the
other leads get a `Result` and `detect_transitions`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from leadscore.bulk.history_json import (
    AtText,
    breakdown_dicts,
    history_texts,
    payload_batch,
    result_text,
    result_texts,
    spaced_breakdown_sql,
    with_breakdown,
)
from leadscore.bulk.lifecycle_parts import paused_collections
from leadscore.bulk.lifecycle_walk import Walker, part_rows, prepare
from leadscore.bulk.stage_rows import stage_rows
from leadscore.bulk.stored_results import stored_results
from leadscore.bulk.walk_part import Changes, Tables, walk_part
from leadscore.domain.result import PlaybookMatch, Result, StageChange, StageColumns
from leadscore.domain.timeutil import from_micros
from leadscore.engine.lifecycle_replay import STAGE_SET, CompiledLifecycle
from leadscore.model.spec import Trigger
from leadscore.sql import literals as q
from leadscore.store.events_repo import json_value
from leadscore.triggers import first_firings, score_hits
from leadscore.triggers.firings import Fired, TriggerFiring, detect_transitions, firing
from leadscore.triggers.first_firings import first_transitions

if TYPE_CHECKING:
    import duckdb
    from sqlalchemy.engine import Connection

    from leadscore.batch.duckdb.run import BatchRun
    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator

CONDS = "_bl_conds"  # DuckDB: (lead_id, _ls_t, _ls_c0..) of the replayed leads
PARTS = "_bl_parts"  # DuckDB: (lead_id, part, n) of the leads of PY, numbered in id order
LEADS = "_bl_leads"  # DuckDB: per lead of PY what its history and firings are made of (`_per_lead`)
# leads per chunk of the pass: each chunk joins its leads' rows again in DuckDB (a hash table over the
# part's shaped rows), scans WALK, reads its stored results and writes its rows in statements of its
# own; chunks of 2,000 cost 0.3-0.4 CPU s more per 100,000 leads than of 10,000 (a lifecycle apply's
# parts of 10,000, finish alone, load 10), whose lists (breakdown texts included) hold about 20 MB
PART = 10_000

Step = tuple[int, str, str | None, str | None]  # (time, type, event id, `stage` property)


def replay(
    lc: CompiledLifecycle, init: str, steps: Sequence[Step], conds: dict[int, tuple[bool, ...]], at: int
) -> tuple[str, list[StageChange]]:
    """`CompiledLifecycle.replay` with each automatic condition read from `conds` (by time; absent or
    unknown: false) instead of evaluated. `steps`: the lead's events up to `at` in log order."""
    stage = init
    start = steps[0][0] if steps else at
    history = [StageChange(stage, from_micros(start), None, "initial")]
    nothing: tuple[bool, ...] = ()

    def move(to: str, when: int, cause: str, event_id: str | None = None) -> None:
        nonlocal stage
        if to != stage:
            history.append(StageChange(to, from_micros(when), stage, cause, event_id))
            stage = to

    def automatic(when: int) -> None:
        if stage not in lc.auto_sources:
            return
        values = conds.get(when, nothing)
        for _ in range(len(lc.stages) + 1):
            for k, tr in enumerate(lc.auto):
                if stage in tr.sources and k < len(values) and values[k]:
                    move(tr.to, when, "auto")
                    break
            else:
                return

    for ts, typ, event_id, target in steps:
        if typ == STAGE_SET:
            assert target is not None  # a bad `stage` is the pure scorer's to refuse (fallback)
            move(target, ts, "manual", event_id)
        else:
            for etr in lc.event_transitions:
                if typ in etr.types and (etr.sources is None or stage in etr.sources):
                    move(etr.to, ts, f"event:{typ}", event_id)
                    break
        automatic(ts)
    automatic(at)
    return stage, history


# the shaped row's columns the history pass does not read (`_part_sql`): its stage history (the pass
# makes its own), the queue rank and the next change, which only the write reads
WRITE_ONLY = ("stage_history", "queue_rank", "next_change_at")
SPACED = "_spaced"  # `_part_sql`: the breakdown's text as a payload holds it, or NULL (`spaced_breakdown_sql`)


def _per_lead(run: BatchRun, windows: list[int], initial: str | None) -> list[str]:
    """LEADS: each lead of PY with its part and number (id order), its first event time by T, its
    initial stage and its scores at T - within, sorted by part: one pass over each table for all the
    parts (joined per part, each part scanned every table again: quadratic). Its shaped row stays in
    ROWS_TABLE, joined when `finish` reads a part (`_part_sql`): a copy here was written, handed
    over and read back a second time when another process prepares the part (the breakdowns
    respaced here, in the preparing processes, cost them more than the history pass saved: the
    column written to the hand-over files and read back). Returns the columns `_part_sql` gives
    after `n`."""
    from leadscore.bulk.lifecycle_split import FIRST, PY, before_table
    from leadscore.bulk.write import RESULT_COLUMNS, ROWS_TABLE

    con = run.con
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {PARTS} AS SELECT lead_id, CAST(n // {PART} AS INTEGER) AS part, n "
        f"FROM (SELECT lead_id, row_number() OVER (ORDER BY lead_id) - 1 AS n FROM {PY})"
    )
    slot = next((s.column for s in run.schema.leads.of("stage") if s.kind == "str"), None)
    init = "CAST(NULL AS VARCHAR)"
    if initial is not None and slot is not None:
        init = f"l.{q.ident(slot)}"
    cols = ["p.lead_id", "fi.first_ts AS _first", f"{init} AS _init"]
    joins = [f"LEFT JOIN {FIRST} AS fi ON fi.lead_id = p.lead_id"]
    if slot is not None and initial is not None:
        joins.append("LEFT JOIN leads AS l ON l.id = p.lead_id")
    for k in range(len(windows)):
        cols.append(f"b{k}.score AS _before{k}")
        joins.append(f"LEFT JOIN {before_table(k)} AS b{k} ON b{k}.lead_id = p.lead_id")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {LEADS} AS SELECT p.part, p.n, {', '.join(cols)} FROM {PARTS} AS p "
        f"{' '.join(joins)} WHERE p.lead_id IN (SELECT lead_id FROM {ROWS_TABLE}) ORDER BY p.part, p.n"
    )
    read = [c for c in RESULT_COLUMNS if c not in WRITE_ONLY]
    return [*read, "_first", "_init", *(f"_before{k}" for k in range(len(windows)))]


class Staged(NamedTuple):
    """What `stage` left in DuckDB for `finish`: the columns `finish` reads per lead (`_per_lead`), the
    mask words of WALK (none without a lifecycle), and how many parts of PART leads LEADS holds."""

    names: list[str]
    words: int
    n_parts: int
    walk: bool  # WALK was made (the model has a lifecycle)


def stage(run: BatchRun, evaluator: Evaluator, at: int) -> Staged:
    """LEADS and WALK of the leads of PY: what the history pass reads, computed from the run's
    tables alone (no store), so a part's staging can run in another process than its pass."""
    from leadscore.bulk.lifecycle_split import score_windows

    con = run.con
    lc = evaluator.scorer.lifecycle
    names = _per_lead(run, score_windows(evaluator), lc.initial if lc is not None else None)
    words = 0
    if lc is not None:
        has_conds = con.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{CONDS}'").fetchall()[0][0]
        words = prepare(run, at, Walker(lc), PARTS, CONDS if has_conds else None, len(lc.auto))
    n_parts = int(con.execute(f"SELECT coalesce(max(part) + 1, 0) FROM {PARTS}").fetchall()[0][0])
    return Staged(names, words, n_parts, lc is not None)


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
    """For each lead of LEADS (`stage`): its replay, its stage-history rows and outbox messages
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
    made: dict[Any, Any] = {}  # `_result`'s
    playbook_of, at_of = functools.partial(_playbook, made), functools.partial(_at, made)
    with paused_collections():  # no cycles made: reference counts free it all (`paused_collections`)
        for k in range(n_parts):
            table = con.sql(_part_sql(names, k, encoded, encoded and not payloads)).to_arrow_table()
            ns = table.column(0).to_pylist()
            cols = dict(zip(names, (table.column(i + 1).to_pylist() for i in range(len(names))), strict=True))
            spaced = table.column(len(names) + 1).to_pylist()  # the payload's breakdown (`_part_sql`)
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
                result = _result(cols, i, _history(columns, lo, hi), made)
                if quiet[i]:
                    found = detect_transitions(model, prev, result, scores_quiet=True)
                else:
                    before = _before(slots, [b[i] for b in befores])
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
                at_dt = _at(made, evaluated[lane[0]])
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
                    fired += [_bare(f, lead) for f in found]
                else:
                    whole = kept if kept is not None else _result(cols, i, [], made)
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


def _history(columns: StageColumns, lo: int, hi: int) -> list[StageChange]:
    """The changes lo..hi-1 of `columns` as `StageChange`s (a result's history, for `detect_transitions`)."""
    to, froms, causes, eids, times = columns
    return [StageChange(to[j], from_micros(times[j]), froms[j], causes[j], eids[j]) for j in range(lo, hi)]


def _at(made: dict[Any, Any], evaluated_at: int) -> Any:
    """The evaluation time's datetime, made once (`_result`'s `made`)."""
    at = made.get(evaluated_at)
    if at is None:
        at = made[evaluated_at] = from_micros(evaluated_at)
    return at


def _part_sql(names: list[str], part: int, spaced: bool = True, texts_only: bool = False) -> str:
    """The leads of LEADS in `part`, in order: `n`, then the columns `names` (`_per_lead`), their
    shaped row's from ROWS_TABLE, then the breakdown's text as a payload holds it where DuckDB can
    respace it (`spaced_breakdown_sql`: the whole part at once, not lead by lead in Python; NULL
    without `spaced`: only the stores that take the payload as text read it). `texts_only` (with
    `spaced`: the payloads are wanted as texts alone, `finish`): the breakdown itself only where it
    was not respaced, which alone reads it then (`result_text_of`), not copied out of DuckDB and into
    Python for every lead."""
    from leadscore.bulk.write import RESULT_COLUMNS, ROWS_TABLE

    shaped = set(RESULT_COLUMNS)

    def column(c: str) -> str:
        if c == "breakdown" and spaced and texts_only:
            return f"CASE WHEN {SPACED} IS NULL THEN breakdown END AS breakdown"
        return c

    inner = ", ".join(f"{'s' if c in shaped else 'l'}.{c}" for c in names)
    made = spaced_breakdown_sql("s.breakdown") if spaced else "CAST(NULL AS VARCHAR)"
    return (
        f"SELECT n, {', '.join(map(column, names))}, {SPACED} FROM (SELECT l.n, {inner}, {made} AS {SPACED} "
        f"FROM {LEADS} AS l JOIN {ROWS_TABLE} AS s ON s.lead_id = l.lead_id WHERE l.part = {int(part)}) ORDER BY n"
    )


def _playbook(made: dict[Any, Any], text: str | None) -> PlaybookMatch | None:
    """The playbook match of the query's text, made once per text (`_result`'s `made`)."""
    if text is None:
        return None
    playbook = made.get(text)
    if playbook is None:
        d = json_value(text)
        playbook = made[text] = PlaybookMatch(d["index"], d["action"], d["priority"], tuple(d["content"]), d["name"])
    return playbook


def _bare(f: Fired, lead: str) -> TriggerFiring:
    """`firing(f, result, bare=True)` of lead `lead`'s result, without the result."""
    t = f.trigger
    return TriggerFiring(t.id, lead, t.destination, f.at, f.kind, f.old, f.new, {}, f.key)


def _result(cols: dict[str, list[Any]], i: int, history: list[StageChange], made: dict[Any, Any]) -> Result:
    """`result_of` of the query's row `i` (JSON as text) with the walk's `history`, without its
    breakdown (see `finish`). The history is the walk's own changes, not dicts made of them and
    read back (the same values: times in whole microseconds either way). `made` (a dict kept for a
    part): the evaluation time's datetime and each playbook text's match, made once, as a part's
    leads share them (one time, a playbook per stage); both are immutable."""
    loads = json_value  # the C scanner straight away: five short texts a lead
    playbook = _playbook(made, cols["playbook"][i])
    at = _at(made, cols["evaluated_at"][i])
    return Result(
        lead_id=cols["lead_id"][i],
        at=at,
        model=cols["model"][i],
        model_version=cols["model_version"][i],
        score=cols["score"][i],
        dimensions=loads(cols["dimensions"][i]),
        labels=loads(cols["labels"][i]),
        stage=cols["stage"][i],
        stage_history=tuple(history),
        breakdown=(),
        playbook=playbook,
    )


def _before(slots: dict[int, int], befores: list[float | None]) -> Callable[[Trigger], float]:
    """The lead's score at T - within of a trigger: `befores` by window, `slots` each window's."""

    def before(trigger: Trigger) -> float:
        assert trigger.within is not None
        score = befores[slots[trigger.within.micros]]
        assert score is not None  # the batch engine scored every lead at T - within
        return float(score)

    return before
