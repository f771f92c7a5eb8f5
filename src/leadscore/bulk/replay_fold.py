"""The lifecycle replay's fold made in NumPy from what a part holds already: each replayed lead's events
that move a stage on their own (the list the scoring query's kept aggregates hold, `stage_sql`'s
`moving_list`) and the rows of the conditions table (`frames.conditions_table`) where some automatic
condition holds. The replay's SQL pass (`build_query(replay=)`) listed every such event again from the
part's events, joined twice with the conditions table; with the fold given (`build_query(folded=)`) it
reads no event.

The fold is the SQL's (`stage_sql._replay_sql`): after each event in (time, input) order, the event's
own transition f, then the automatic transitions g with the conditions at its time. At a time with no
row of the conditions table (or none that holds) g moves nothing. An event that moves nothing on its
own applies g alone, and g is a fixed point (g(g(x)) = g(x)), so at a time t only the moving events and
one g before the first of them count: that g is there when an event that moves nothing comes before the
first moving one at t, which the arrays cannot tell (the input order of events at one time). Where it
would change the stage the lead is left to the SQL pass; everywhere else both readings agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from leadscore.engine.lifecycle_replay import STAGE_SET
from leadscore.model.checks import auto_sources
from leadscore.model.spec import Lifecycle
from leadscore.sql.kept_aggregates import aggregate_keys
from leadscore.sql.stage_sql import FOLDED, auto_conditions, stage_sql

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from leadscore.batch.duckdb.run import BatchRun

__all__ = ["FOLD_TABLE", "SQL_LEADS", "STAGED", "Folded", "fold_table"]

FOLD_TABLE = "_ls_rp_fold"  # (lead_id, _ls_fv): the fold of each lead the arrays decide
SQL_LEADS = "_ls_rp_sql"  # (lead_id): the leads left to the replay's SQL pass
# the result's columns that read the stage (`build_query`: the playbook's conditions may read it, the
# fallback reads the stage's bad data and undecided flag): the replay's pass over the scoring query's
# kept aggregates gives every other column as the scoring query did
STAGED = ("stage", "playbook", "fallback", "needs_replay")


@dataclass(frozen=True)
class Folded:
    folded: int  # leads of FOLD_TABLE
    left: int  # leads of SQL_LEADS


def fold_table(run: BatchRun, ids: str, conditions: str) -> Folded | None:
    """The tables FOLD_TABLE and SQL_LEADS for the leads of the table `ids` (lead_id) of the run `run`
    (its connection, model, sources, time), from the table `conditions` (`stage_replay.conditions_query`'s
    rows, at T included) and the scoring query's kept aggregates (`run.aggregated`); None (no table made)
    without those, or when they do not hold the moving events' list."""
    import pyarrow as pa

    from leadscore.sql.query import compiler

    model, con, aggregated = run.model, run.con, run.aggregated
    lc = model.lifecycle
    if lc is None or aggregated is None:
        return None
    c = compiler(model, run.schema, run.at, "duckdb", run.lookups, run.clustered)
    stage = stage_sql(c, model)
    if stage.moving_list is None:
        return None
    column = aggregated.columns.get(aggregate_keys(c)[stage.moving_list])
    if column is None:
        return None
    leads = con.sql(
        f"SELECT i.lead_id, l._ls_init, a.{column} AS _ls_mv FROM {ids} AS i "
        f"LEFT JOIN (SELECT id, {stage.init} AS _ls_init FROM leads) AS l ON l.id = i.lead_id "
        f"LEFT JOIN {aggregated.table} AS a ON a._ls_lead = i.lead_id"
    ).to_arrow_table()
    n = len(auto_conditions(model))
    held = " OR ".join(f"coalesce(_ls_c{k}, FALSE)" for k in range(n)) or "FALSE"
    mask = " + ".join(f"(CASE WHEN coalesce(_ls_c{k}, FALSE) THEN {1 << k} ELSE 0 END)" for k in range(n)) or "0"
    rows = con.sql(
        f"SELECT lead_id, _ls_t, CAST({mask} AS BIGINT) AS _ls_m FROM {conditions} WHERE {held}"
    ).to_arrow_table()
    found = _fold(lc, leads, rows)
    if found is None:
        return None
    values, left = found
    ids_col = leads.column("lead_id")
    keep = pa.array(~left)
    con.register("_ls_rp_fold_arrow", pa.table({"lead_id": ids_col.filter(keep), FOLDED: values.filter(keep)}))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {FOLD_TABLE} AS SELECT * FROM _ls_rp_fold_arrow")
    con.unregister("_ls_rp_fold_arrow")
    con.register("_ls_rp_sql_arrow", pa.table({"lead_id": ids_col.filter(pa.array(left))}))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SQL_LEADS} AS SELECT * FROM _ls_rp_sql_arrow")
    con.unregister("_ls_rp_sql_arrow")
    n_left = int(left.sum())
    return Folded(len(left) - n_left, n_left)


def _fold(lc: Lifecycle, leads: pa.Table, rows: pa.Table) -> tuple[pa.Array, np.ndarray] | None:
    """(each lead's fold, as text; which leads the arrays cannot decide) over `leads` (lead_id, _ls_init,
    _ls_mv: the moving events' list) and `rows` (lead_id, _ls_t, _ls_m: the mask of the conditions that
    hold, at the rows where one does)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n_leads = leads.num_rows
    moves = leads.column("_ls_mv").combine_chunks()
    flat = pc.list_flatten(moves)
    move_lead = pc.list_parent_indices(moves).to_numpy().astype(np.int64)
    move_t = flat.field("a").to_numpy(zero_copy_only=False).astype(np.int64)
    cond_lead = pc.index_in(rows.column("lead_id"), value_set=leads.column("lead_id")).to_numpy(zero_copy_only=False)
    if len(cond_lead) and np.isnan(cond_lead.astype(float)).any():
        return None  # (a row of a lead that is not replayed: the tables disagree)
    cond_lead = cond_lead.astype(np.int64)
    cond_t = rows.column("_ls_t").to_numpy().astype(np.int64)
    cond_mask = rows.column("_ls_m").to_numpy().astype(np.int64)

    # the stages as codes: every text the fold may hold (a bad one too, which the row marks bad) and NULL
    # (both as plain strings: DuckDB may hand either column over as another string type)
    inits = leads.column("_ls_init").combine_chunks().cast(pa.string())
    texts = pa.chunked_array([inits, flat.field("s").cast(pa.string())], type=pa.string())
    coded = texts.combine_chunks().dictionary_encode()
    met: list[str] = coded.dictionary.to_pylist()
    stages = lc.all_stages()
    vocab: list[str | None] = [*stages, *(x for x in met if x not in stages), None]
    index = {v: i for i, v in enumerate(vocab)}
    null = len(vocab) - 1
    remap = np.array([*(index[x] for x in met), null], dtype=np.int64)
    codes = remap[coded.indices.fill_null(len(met)).to_numpy(zero_copy_only=False).astype(np.int64)]
    init, move_s = codes[:n_leads], codes[n_leads:]
    types = flat.field("t").cast(pa.string()).dictionary_encode()
    type_names: list[str] = types.dictionary.to_pylist()
    move_type = types.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    f_table = _f_table(lc, type_names, vocab)
    masks, mask_of = np.unique(cond_mask, return_inverse=True)
    g_table = _g_table(lc, [int(m) for m in masks], vocab)
    if g_table is None:
        return None
    no_mask = len(masks)  # g_table's last row: nothing holds

    # every step in (lead, time) order; at one time the conditions' row first, then the moving events
    # in their list's order
    n_c, n_m = len(cond_lead), len(move_lead)
    lead = np.concatenate([cond_lead, move_lead])
    t = np.concatenate([cond_t, move_t])
    kind = np.concatenate([np.zeros(n_c, dtype=np.int8), np.ones(n_m, dtype=np.int8)])
    seq = np.concatenate([np.zeros(n_c, dtype=np.int64), np.arange(n_m, dtype=np.int64)])
    order = np.lexsort((seq, kind, t, lead))
    lead, t, kind = lead[order], t[order], kind[order]
    g_row = np.concatenate([mask_of.reshape(-1).astype(np.int64), np.full(n_m, no_mask, dtype=np.int64)])[order]
    typ = np.concatenate([np.zeros(n_c, dtype=np.int64), move_type])[order]
    s = np.concatenate([np.zeros(n_c, dtype=np.int64), move_s])[order]
    n = len(order)
    new = np.ones(n, dtype=bool)  # the first step of its (lead, time)
    new[1:] = (lead[1:] != lead[:-1]) | (t[1:] != t[:-1])
    group = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    # a moving event's g: its time's row, when it has one
    g_row = np.where(kind[first[group]] == 0, g_row[first[group]], no_mask) if n else g_row
    # the conditions' g before a moving event at the same time: the event order the arrays do not know
    after = np.zeros(n, dtype=bool)
    after[:-1] = ~new[1:]
    pre = (kind == 0) & after

    lead_first = np.ones(n, dtype=bool)
    lead_first[1:] = lead[1:] != lead[:-1]
    starts = np.flatnonzero(lead_first)
    rank = np.arange(n) - starts[np.cumsum(lead_first) - 1] if n else np.zeros(0, dtype=np.int64)
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[by_rank], np.arange(int(rank.max()) + 2 if n else 1))
    acc = init.copy()
    left = np.zeros(n_leads, dtype=bool)
    stage_set = type_names.index(STAGE_SET) if STAGE_SET in type_names else -1
    for r in range(len(bounds) - 1):
        at_r = by_rank[bounds[r] : bounds[r + 1]]
        who = lead[at_r]
        before = acc[who]
        moved = kind[at_r] == 1
        step = np.where(moved, f_table[typ[at_r], before], before)
        step = np.where(moved & (typ[at_r] == stage_set), s[at_r], step)
        step = g_table[g_row[at_r], step]
        left[who[pre[at_r] & (step != before)]] = True
        acc[who] = step
    values = pa.DictionaryArray.from_arrays(
        pa.array(acc, mask=acc == null), pa.array(vocab[:-1], type=pa.string())
    ).cast(pa.string())
    return values, left


def _f_table(lc: Lifecycle, types: list[str], vocab: list[str | None]) -> np.ndarray:
    """[type, stage] -> the stage after an event of that type (`_replay_sql`'s f; `stage_set` apart)."""
    import numpy as np

    out = np.zeros((max(len(types), 1), len(vocab)), dtype=np.int64)
    index = {v: i for i, v in enumerate(vocab)}
    event_trs = [tr for tr in lc.transitions if tr.on is not None]
    for i, typ in enumerate(types):
        for j, acc in enumerate(vocab):
            to = acc
            for tr in event_trs:
                if typ in (tr.on or ()) and (not tr.from_ or (acc is not None and acc in tr.from_)):
                    to = tr.to
                    break
            out[i, j] = index[to]
    return out


def _g_table(lc: Lifecycle, masks: list[int], vocab: list[str | None]) -> np.ndarray | None:
    """[mask, stage] -> the stage after the automatic transitions with the conditions of the mask
    (`stage_sql._g`), a last row for no condition; None when they can cycle (the SQL refuses it)."""
    import numpy as np

    stages = lc.all_stages()
    checks = [
        (k, tr.to, frozenset(auto_sources(lc, tr.to, tr.from_)))
        for k, tr in enumerate(tr for tr in lc.transitions if tr.when is not None)
    ]
    index = {v: i for i, v in enumerate(vocab)}
    out = np.tile(np.arange(len(vocab), dtype=np.int64), (len(masks) + 1, 1))
    for m, mask in enumerate(masks):
        for j, acc in enumerate(vocab):
            if acc not in stages:
                continue
            stage, depth = acc, 0
            while True:
                to = next((to for k, to, src in checks if stage in src and mask >> k & 1), None)
                if to is None:
                    break
                stage, depth = to, depth + 1
                if depth > len(stages):
                    return None
            out[m, j] = index[stage]
    return out
