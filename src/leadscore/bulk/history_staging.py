"""What the history pass (`lifecycle_history.finish`) reads, staged in DuckDB from the batch engine's
run alone (no store), so that a part's staging can run in another process than its pass
(`lifecycle_prepare`): LEADS, each lead of PY with its part, first event time, initial stage and
scores at T - within (`_per_lead`), and WALK, the rows that can move a stage (`lifecycle_walk.prepare`);
and the query that reads one part of LEADS with its shaped row (`part_sql`). Apart from the pass
because it touches DuckDB only, and another process runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from leadscore.bulk.history_json import spaced_breakdown_sql
from leadscore.bulk.lifecycle_walk import Walker, prepare
from leadscore.sql import literals as q

if TYPE_CHECKING:
    from leadscore.batch.duckdb.run import BatchRun
    from leadscore.store.pipeline import Evaluator

CONDS = "_bl_conds"  # DuckDB: (lead_id, _ls_t, _ls_c0..) of the replayed leads
PARTS = "_bl_parts"  # DuckDB: (lead_id, part, n) of the leads of PY, numbered in id order
LEADS = "_bl_leads"  # DuckDB: per lead of PY what its history and firings are made of (`_per_lead`)
# leads per chunk of the pass: each chunk joins its leads' rows again in DuckDB (a hash table over the
# part's shaped rows), scans WALK, reads its stored results and writes its rows in statements of its
# own; chunks of 2,000 cost 0.3-0.4 CPU s more per 100,000 leads than of 10,000 (a lifecycle apply's
# parts of 10,000, finish alone, load 10), whose lists (breakdown texts included) hold about 20 MB
PART = 10_000

# the shaped row's columns the history pass does not read (`part_sql`): its stage history (the pass
# makes its own), the queue rank and the next change, which only the write reads
WRITE_ONLY = ("stage_history", "queue_rank", "next_change_at")
SPACED = "_spaced"  # `part_sql`: the breakdown's text as a payload holds it, or NULL (`spaced_breakdown_sql`)


def _per_lead(run: BatchRun, windows: list[int], initial: str | None) -> list[str]:
    """LEADS: each lead of PY with its part and number (id order), its first event time by T, its
    initial stage and its scores at T - within, sorted by part: one pass over each table for all the
    parts (joined per part, each part scanned every table again: quadratic). Its shaped row stays in
    ROWS_TABLE, joined when `lifecycle_history.finish` reads a part (`part_sql`): a copy here was
    written, handed over and read back a second time when another process prepares the part (the
    breakdowns respaced here, in the preparing processes, cost them more than the history pass saved:
    the column written to the hand-over files and read back). Returns the columns `part_sql` gives
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
    """What `stage` left in DuckDB for `lifecycle_history.finish`: the columns it reads per lead
    (`_per_lead`), the mask words of WALK (none without a lifecycle), and how many parts of PART leads
    LEADS holds."""

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


def part_sql(names: list[str], part: int, spaced: bool = True, texts_only: bool = False) -> str:
    """The leads of LEADS in `part`, in order: `n`, then the columns `names` (`_per_lead`), their
    shaped row's from ROWS_TABLE, then the breakdown's text as a payload holds it where DuckDB can
    respace it (`spaced_breakdown_sql`: the whole part at once, not lead by lead in Python; NULL
    without `spaced`: only the stores that take the payload as text read it). `texts_only` (with
    `spaced`: the payloads are wanted as texts alone, `lifecycle_history.finish`): the breakdown itself
    only where it was not respaced, which alone reads it then (`result_text_of`), not copied out of
    DuckDB and into Python for every lead."""
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
