"""The one-pass replay's conditions table (`conditions_table`): the events' rows of the leads read in
parts of whole leads, grouped and sorted in NumPy, their window aggregates (`frame_windows`) and the
conditions at each row computed from them (`frame_scores`, else DuckDB over the aggregates), the rows
that cannot move a stage dropped before the table is made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from leadscore.bulk import frame_reads
from leadscore.bulk.frame_rows import Packed, Rows
from leadscore.bulk.frame_scores import Conditions, as_table
from leadscore.bulk.frame_windows import aggregates, arrays, coded, prefix, row_lead_ids
from leadscore.model.spec import ScoringModel
from leadscore.sql.columns import SourceSchema
from leadscore.sql.condition_sql import TS
from leadscore.sql.lookups import Lookups
from leadscore.sql.stage_sql import auto_conditions
from leadscore.sql.stage_windows import ENTERS, MOVING, window_conditions_query
from leadscore.sql.window_compiler import Frame, T

ENTERS_INIT = "_ls_ien"  # `_lead_values`' columns k: the lead's initial stage may lead to a source of condition k

if TYPE_CHECKING:
    import duckdb
    import numpy as np
    import pyarrow as pa


ARROW = "_ls_fr_part"  # DuckDB: one part's aggregates (an Arrow table)
_INT64_MAX = 2**63 - 1
CHUNK_ROWS = 250_000  # event rows per part: about 0.2 GB of arrays at their largest, same CPU as 1M


def conditions_table(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    schema: SourceSchema,
    at: int,
    ids: str,
    table: str,
    *,
    dedupe: bool,
    dups_table: str | None,
    lookups: Lookups | None = None,
    null_ids: bool = True,
    inline: Callable[[str], str] = str,
    chunk_rows: int = CHUNK_ROWS,
    idle: bool = False,
) -> bool:
    """The table `table` with the rows of `stage_replay.conditions_query`, its window aggregates
    computed here when they can be (True then), part by part of about `chunk_rows` event rows (whole
    leads), so memory stays bounded; the rows a rewritten decay leaves undecided are then scored by
    the join, all at once. `inline` rewrites each query before it runs (look-ups). With `idle`, without
    the rows that cannot move a stage (`lifecycle_walk.drop_idle`): dropped here from the arrays of each
    part whose conditions are all decided, before the table is made; by the SQL after the join
    otherwise."""
    import pyarrow as pa

    from leadscore.bulk.lifecycle_walk import drop_idle
    from leadscore.sql import stage_replay

    kw: dict[str, Any] = {"dedupe": dedupe, "dups_table": dups_table, "lookups": lookups, "null_ids": null_ids}
    window = window_conditions_query(model, schema, at, ids, moving=idle, **kw)

    def by_sql() -> bool:
        query = stage_replay.conditions_query(model, schema, at, ids, **kw)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {inline(query)}")
        if idle:
            drop_idle(con, table, model, at, ids)
        return False

    if window.frames is None:
        return by_sql()
    sql = inline(window_conditions_query(model, schema, at, ids, aggregates=ARROW, **kw).sql)
    # the rows as the query gives them, then grouped by lead and sorted by time here: DuckDB's ORDER BY
    # over them (a numbering of the leads, a join, a sort of every row) cost twice the query itself
    rows = coded(con.sql(inline(window.rows_sql)).to_arrow_table())
    order, starts = _lead_order(rows)
    plan = window.arrays
    # the lead's own columns the conditions read, once per lead (`stage_arrays.ArrayPlan.lead_sql`)
    # with `idle`, each lead's conditions where the replay never reads them are FALSE (`_unread`): their
    # changes there keep no row; the lead's initial stage decides which are read from its first event
    starts_read = _initial_reads(model, schema) if idle and model.lifecycle is not None else []
    # with `idle`, the score conditions evaluated only where the replay may read them (`frame_reads`)
    gate = frame_reads.Gate.of(model, plan) if starts_read and plan is not None else None
    returns = gate.initial(_initial_in(model, schema, 1)) if gate is not None else []
    # (pairs: two conditions' SQL may be the same text)
    lead_cols = [*plan.lead_sql.items(), *starts_read, *returns] if plan is not None else []
    leads = None if plan is None else _lead_values(con, lead_cols, ids, inline)
    n_conds = len(auto_conditions(model))
    done = False
    undecided = not window.exact  # the arrays may leave rows to the join where the SQL would not (a sum)
    idle_left = False  # some part's idle rows are left to `drop_idle`
    idle_undecided = False  # some part's rows were dropped around undecided ones (`_moves`)
    # the arrays' parts gathered from the rows packed once (`Packed`), not taken from the Arrow table
    packed = Packed(rows, window.types) if plan is not None and leads is not None and Packed.fits(rows) else None
    # each lead of the packed rows (its code) -> its row of `leads`: the ids' texts matched once per lead,
    # not once per kept row (twice a part: 0.4 of a part of 100,000 leads' 6 CPU s of conditions)
    lead_rows = None if packed is None or leads is None else _positions(packed.ids, leads)
    reading = None
    if gate is not None and packed is not None and leads is not None and plan is not None:
        from leadscore.bulk.frame_scores import Conditions

        read_init = {k: leads.column(f"{ENTERS_INIT}{k}").to_numpy(zero_copy_only=False) for k in gate.scored}
        reading = (gate, Conditions(plan, leads), read_init)
    for lo, hi in _parts(starts, len(order), chunk_rows):
        found = None
        if plan is not None and leads is not None:
            from leadscore.bulk.frame_scores import conditions

            if packed is not None and lead_rows is not None:
                kept = packed.rows(order[lo:hi])
                lead_ids = packed.lead_ids(kept, kept.out)
                lead_of = lead_rows[kept.lead[kept.out]]
                if reading is not None:
                    found = _read_table(reading, window.frames, kept, lead_ids, lead_of, leads)
                if found is None:
                    kept, cols = arrays(kept, window.frames, nulls=False)
            else:
                part = rows.take(order[lo:hi])
                kept, cols = arrays(Rows.of(part, window.types), window.frames, nulls=False)
                lead_ids = row_lead_ids(part, kept.out)
                lead_of = _positions(lead_ids, leads)
            if found is None:
                found = conditions(plan, kept, cols, lead_ids, lead_of, leads, n_conds)
        if found is not None:
            if starts_read:
                found = _unread(found, kept, leads, lead_of, len(starts_read))
            unsure = any(col.null_count for col in found.columns[2:])
            undecided = undecided or unsure
            if idle:  # (an undecided row and the one after it are kept: `drop_idle` once they are decided)
                found = found.filter(pa.array(_moves(kept, found, at)))
                idle_undecided = idle_undecided or unsure
            con.register(ARROW, found)
            query = f"SELECT * FROM {ARROW}"
        else:
            con.register(ARROW, aggregates(rows.take(order[lo:hi]), window.frames, window.types))
            query = sql
            idle_left = idle_left or idle
        if not done:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {query}")
            done = True
        else:
            con.execute(f"INSERT INTO {table} {query}")
        con.unregister(ARROW)
    del rows, packed
    decided = _undecided(con, model, schema, at, table, n_conds, inline, kw) if undecided else None
    if idle_left:  # over the whole table: on the rows dropped already, it drops nothing more
        drop_idle(con, table, model, at, ids)
    elif idle_undecided and decided is not None:
        # only the leads that had undecided rows: the others' rows are the ones `drop_idle` keeps already
        # (over the whole table of a part of 100,000 leads it cost 0.27 CPU s, most of it their events)
        _drop_idle_of(con, table, model, at, decided)
    if decided is not None:
        con.execute(f"DROP TABLE {decided}")
    return True


def _drop_idle_of(con: duckdb.DuckDBPyConnection, table: str, model: ScoringModel, at: int, leads: str) -> None:
    """`lifecycle_walk.drop_idle` over the rows of `table` of the leads of the table `leads` alone."""
    from leadscore.bulk.lifecycle_walk import drop_idle

    mine = f"lead_id IN (SELECT lead_id FROM {leads})"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_idle_part AS SELECT * FROM {table} WHERE {mine}")
    con.execute(f"DELETE FROM {table} WHERE {mine}")
    drop_idle(con, "_ls_idle_part", model, at, leads)
    con.execute(f"INSERT INTO {table} SELECT * FROM _ls_idle_part")
    con.execute("DROP TABLE _ls_idle_part")


def _initial_reads(model: ScoringModel, schema: SourceSchema) -> list[tuple[str, str]]:
    """Per automatic transition k, the SQL over a lead's row and its column `_ls_ien{k}`: whether its
    initial stage (its `stage` attribute, else the model's) may lead to a source of k without an event
    (`stage_sql.relevance`)."""
    return [(sql, f"{ENTERS_INIT}{k}") for k, sql in _initial_in(model, schema, 0).items()]


def _initial_in(model: ScoringModel, schema: SourceSchema, which: int) -> dict[int, str]:
    """Per automatic transition k, the SQL over a lead's row: whether its initial stage (its `stage`
    attribute, else the model's) is one of `stage_sql.relevance`'s stages of k (`which` 0) or of
    `stage_sql.reentries`' (1: k without any left out); a `stage` that is no stage name is either."""
    from leadscore.sql import literals as q
    from leadscore.sql.stage_sql import reentries, relevance

    lc = model.lifecycle
    assert lc is not None
    slot = next((s.column for s in schema.leads.of("stage") if s.kind == "str"), None)
    init = q.text(lc.initial_stage) if slot is None else f"coalesce({q.ident(slot)}, {q.text(lc.initial_stage)})"
    # a `stage` that is no stage name is bad data, for the pure scorer: every condition read (never here)
    valid = q.text_list(lc.all_stages())
    sets = [r[0] if r else None for r in (relevance(lc) if which == 0 else reentries(lc))]
    return {
        k: (
            f"({init} IN {q.text_list(sorted(stages))} OR {init} NOT IN {valid})"
            if stages
            else f"({init} NOT IN {valid})"
        )
        for k, stages in enumerate(sets)
        if stages is not None
    }


def _read_table(
    reading: tuple[frame_reads.Gate, Conditions, dict[int, np.ndarray]],
    frames: dict[str, Frame],
    rows: Rows,
    lead_ids: pa.Array,
    lead_of: np.ndarray,
    leads: pa.Table,
) -> pa.Table | None:
    """`frame_scores.conditions`' table of a part's rows, its score conditions evaluated where the replay
    may read them (`frame_reads.values`); None when the SQL must compute them."""
    gate, conds, read_init = reading
    found = frame_reads.values(gate, conds, frames, rows, lead_of, leads, read_init)
    return None if found is None else as_table(lead_ids, rows.ts[rows.out], found)


def _positions(ids: pa.Array, leads: pa.Table) -> np.ndarray:
    """Each id's row in `leads` (its column `_ls_lid`: every lead of the part, each once)."""
    import pyarrow.compute as pc

    found: np.ndarray = pc.index_in(ids, value_set=leads.column("_ls_lid")).to_numpy(zero_copy_only=False)
    return found


def _unread(found: pa.Table, rows: Rows, leads: pa.Table, lead_of: np.ndarray, n: int) -> pa.Table:
    """`found` with each condition k FALSE at the rows where the replay cannot read it: the lead's initial
    stage leads to no source of k and no event of the lead up to the row's time may bring it to one
    (`stage_sql.relevance`): a condition is read from a transition's sources only, and its value there
    changes no stage (nor any row `drop_idle` keeps: fewer rows for the fold and the history pass)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = rows.out
    first = rows.lead_start[rows.g[out]]
    for k in range(n):
        entered = prefix(rows.flag(f"{ENTERS}{k}"))
        read = leads.column(f"{ENTERS_INIT}{k}").to_numpy(zero_copy_only=False)[lead_of]
        read |= entered[out + 1] - entered[first] > 0
        if not read.all():
            col = found.column(2 + k)
            found = found.set_column(2 + k, found.field(2 + k), pc.if_else(pa.array(read), col, False))
    return found


def _moves(rows: Rows, found: pa.Table, at: int) -> np.ndarray:
    """Which rows of `found` (one per kept row of `rows`) `drop_idle` keeps: those at T, at a time with
    an event that can move a stage on its own (MOVING), or whose conditions differ from those at the
    lead's time before (all false before its first); and a row with an undecided condition (NULL) and
    the one after it, whose values `frames._undecided` decides later: `drop_idle` then runs over the
    rows kept here, which it leaves as it would the whole part's (a row dropped here equals the one
    before it, so the next kept row compares with the same values). At a part of 100,000 leads some
    chunk always had such a row, which sent all its rows to `drop_idle` in SQL (0.34 CPU s there)."""
    import numpy as np
    import pyarrow.compute as pc

    out = rows.out
    if not len(out):
        return np.zeros(0, dtype=bool)
    first = np.zeros(len(out), dtype=np.int64)  # each (lead, time)'s first row
    first[1:] = out[:-1] + 1
    mv = prefix(rows.flag(MOVING))
    keep = (found.column(T).to_numpy() >= at) | (mv[out + 1] - mv[first] > 0)
    lead_first = rows.new[first]
    for k in range(2, found.num_columns):
        col = found.column(k)
        c = (pc.fill_null(col, False) if col.null_count else col).to_numpy()
        before = np.zeros(len(c), dtype=bool)
        before[1:] = c[:-1]
        keep |= c != (before & ~lead_first)
        if col.null_count:
            undecided = col.is_null().to_numpy()
            keep |= undecided
            keep[1:] |= undecided[:-1]
    return keep


def _lead_values(
    con: duckdb.DuckDBPyConnection, lead_sql: list[tuple[str, str]], ids: str, inline: Callable[[str], str]
) -> pa.Table:
    """(_ls_lid, each column of `lead_sql`: (SQL, name)) for the leads of `ids`, a lead without a row of
    its own read as the SQL's LEFT JOIN reads it (every attribute missing)."""
    cols = "".join(f", {sql} AS {name}" for sql, name in lead_sql)
    query = (
        f"SELECT _ls_lid{cols} FROM (SELECT i.lead_id AS _ls_lid, l.* FROM {ids} AS i "
        "LEFT JOIN leads AS l ON l.id = i.lead_id)"
    )
    return con.sql(inline(query)).to_arrow_table()


def _lead_order(rows: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(a permutation of the rows that puts each lead's rows together, sorted by time, where its
    position in the sorted rows of each lead's first row). Leads come in the order of their first row
    (hashed ids, no sort of the text); ties in time keep the query's order."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not rows.num_rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ids = rows.column("lead_id").combine_chunks()
    lead = (ids if pa.types.is_dictionary(ids.type) else pc.dictionary_encode(ids)).indices.to_numpy()
    ts = rows.column(TS).to_numpy()
    lo, hi = int(ts.min()), int(ts.max())
    width = hi - lo + 1
    if (int(lead.max()) + 1) * width <= _INT64_MAX:
        # (lead, time) as one BIGINT, sorted stably: the same order as `lexsort` of the two keys, which
        # cost 2-3 times more (0.05 CPU s a part of 10,000 leads x 50 events)
        order = np.argsort(lead.astype(np.int64) * width + (ts - lo), kind="stable")
    else:
        order = np.lexsort((ts, lead))
    grouped = lead[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = grouped[1:] != grouped[:-1]
    return order, np.flatnonzero(new)


def _parts(starts: np.ndarray, n: int, chunk_rows: int) -> list[tuple[int, int]]:
    """Ranges [lo, hi) of the sorted rows, of about `chunk_rows` rows each and whole leads (at least
    one lead each; `starts`: the first row of each lead); one empty range when there are no rows, so
    the table is still made."""
    import numpy as np

    if not n:
        return [(0, 0)]
    parts, lo = [], 0
    while lo < n:
        hi = n
        if lo + chunk_rows < n:
            hi = int(starts[int(np.searchsorted(starts, lo + chunk_rows, side="right")) - 1])  # the last lead's end
            if hi <= lo:  # one lead longer than a chunk: it alone
                k = int(np.searchsorted(starts, lo, side="right"))
                hi = int(starts[k]) if k < len(starts) else n
        parts.append((lo, hi))
        lo = hi
    return parts


def _undecided(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    schema: SourceSchema,
    at: int,
    table: str,
    n_conds: int,
    inline: Callable[[str], str],
    kw: dict[str, Any],
) -> str | None:
    """The rows of `table` a rewritten decay left undecided (a NULL condition), scored again by the
    join (exact), as `stage_replay.conditions_query` does within one query; the table of their leads
    (`_ls_und_ids`, the caller drops it), None without any."""
    from leadscore.sql import literals as q
    from leadscore.sql.stage_replay import join_conditions_query

    undecided = q.any_of([f"_ls_c{k} IS NULL" for k in range(n_conds)])
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_und AS SELECT lead_id, {T} FROM {table} WHERE {undecided}")
    if con.execute("SELECT count(*) FROM _ls_und").fetchall()[0][0]:
        con.execute("CREATE OR REPLACE TEMP TABLE _ls_und_ids AS SELECT DISTINCT lead_id FROM _ls_und")
        join = join_conditions_query(model, schema, at, "_ls_und_ids", times="_ls_und", **kw)
        con.execute(f"DELETE FROM {table} WHERE {undecided}")
        con.execute(f"INSERT INTO {table} {inline(join)}")
        con.execute("DROP TABLE _ls_und")
        return "_ls_und_ids"
    con.execute("DROP TABLE _ls_und")
    return None
