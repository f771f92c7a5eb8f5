"""The lifecycle replay of the bulk path over the few rows that can move a stage, in one pass.

`condition_replay.replay` walks every event of a lead and reads the automatic conditions at each
event time from a dict. Most of those steps cannot move anything: an event with no transition of its
own (nor a `stage_set`) only triggers the automatic transitions at its time, and those only move
when one of their conditions holds there. So DuckDB hands over, per lead and in replay order, only:

- the *moving events* (a type of an event transition, or `stage_set`) up to T, with the conditions
  at their time and whether an earlier event shares that time (`again`: the pure replay ran the
  automatic transitions after that one, before this event's own transition);
- the *condition rows*: the times up to T (event times and T) at which at least one automatic
  condition holds, after the events of that time, but not those whose conditions are the same as
  the row's before them.

Conditions travel as bit masks (bit k: automatic transition k's condition holds; NULL counts as
false, as in `replay`). A time whose conditions are all false moves nothing, and running the
automatic transitions twice with the same conditions and no move in between changes nothing (they
run until none applies, and the model has no cycles), so `Walker.walk`
over these rows gives `replay`'s stage and history (the property test in tests/bulk compares them).

`prepare` builds the rows once for every lead of the part table, sorted by part, so each part's
rows are read with a filter DuckDB answers from the sorted table's row-group ranges (not by scanning
every event again for each part, which made the pass quadratic in the number of leads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadscore.domain.result import StageChange
from leadscore.domain.timeutil import from_micros
from leadscore.engine.lifecycle_replay import STAGE_SET, CompiledLifecycle
from leadscore.model.spec import ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.stage_sql import auto_conditions, moving_types

if TYPE_CHECKING:
    import duckdb

    from leadscore.batch.duckdb.run import BatchRun

WALK = "_bl_walk"  # DuckDB: (part, n, t, kind, type, eid, target, again, m0..) sorted by part, n, t, kind
BITS = 62  # conditions per mask word (a BIGINT, sign bit left alone)

# the columns of WALK `Walker.walk` reads: t, kind, type, event id, `stage` property, again, mask
Cols = tuple[list[int], list[int], list[str | None], list[str | None], list[str | None], list[bool], list[int]]
EVENT, CONDITIONS = 0, 1  # `kind`: a moving event, or the conditions at a time (after its events)


class Walker:
    """The transitions of one lifecycle, indexed for the walk."""

    def __init__(self, lc: CompiledLifecycle) -> None:
        self.initial = lc.initial
        self.rounds = len(lc.stages) + 1  # as `replay`: the model has no cycles, this bounds it anyway
        # per stage: its automatic transitions (bit, target) in the model's order
        self.auto: dict[str, list[tuple[int, str]]] = {
            s: [(k, tr.to) for k, tr in enumerate(lc.auto) if s in tr.sources] for s in lc.auto_sources
        }
        # per event type: its transitions (sources or None for any, target) in the model's order
        self.on: dict[str, list[tuple[frozenset[str] | None, str]]] = {}
        for etr in lc.event_transitions:
            for typ in etr.types:
                self.on.setdefault(typ, []).append((etr.sources, etr.to))
        self.moving = sorted({STAGE_SET, *self.on})
        # per stage: the bits of its automatic transitions (a row whose conditions have none: no move)
        self.bits = {s: sum(1 << k for k, _ in trs) for s, trs in self.auto.items()}

    def walk(
        self, init: str, start: int, cols: Cols, lo: int, hi: int, times: list[int] | None = None
    ) -> tuple[str, list[StageChange]]:
        """The stage and history of one lead from its rows lo..hi-1 of `cols` (`part_rows`), `start`
        the time of its first event by T (T if none). The same as `condition_replay.replay` over
        all its events and the conditions at all its times. `times` (a list, emptied first): the
        microseconds of each change of the history, which the stored rows and texts want (turning
        the changes' datetimes back was three conversions a change)."""
        ts, kinds, types, eids, targets, agains, masks = cols
        stage = init
        history = [StageChange(stage, from_micros(start), None, "initial")]
        if times is None:
            times = []
        times[:] = [start]
        bits = self.bits
        for j in range(lo, hi):
            mask = masks[j]
            if kinds[j] == EVENT:
                if agains[j] and mask & bits.get(stage, 0):
                    stage = self._automatic(stage, ts[j], mask, history, times)
                typ = types[j]
                to: str | None = None
                if typ == STAGE_SET:
                    to, cause = targets[j], "manual"  # a bad `stage` is the pure scorer's (fallback)
                else:
                    cause = f"event:{typ}"
                    for sources, target in self.on.get(typ or "", ()):
                        if sources is None or stage in sources:
                            to = target
                            break
                if to is not None and to != stage:
                    history.append(StageChange(to, from_micros(ts[j]), stage, cause, eids[j]))
                    times.append(ts[j])
                    stage = to
            if mask & bits.get(stage, 0):
                stage = self._automatic(stage, ts[j], mask, history, times)
        return stage, history

    def _automatic(self, stage: str, when: int, mask: int, history: list[StageChange], times: list[int]) -> str:
        for _ in range(self.rounds):
            for k, to in self.auto.get(stage, ()):
                if mask >> k & 1:
                    if to != stage:
                        history.append(StageChange(to, from_micros(when), stage, "auto"))
                        times.append(when)
                    stage = to
                    break
            else:
                return stage
        return stage


def _mask_sql(alias: str, n_auto: int) -> list[str]:
    """The conditions of a CONDS row (as `alias`) as BIGINT words of BITS bits."""
    words = []
    for w in range(0, max(n_auto, 1), BITS):
        bits = [
            f"CASE WHEN coalesce({alias}._ls_c{k}, FALSE) THEN {1 << (k - w)} ELSE 0 END"
            for k in range(w, min(n_auto, w + BITS))
        ]
        words.append(f"CAST({' + '.join(bits) if bits else '0'} AS BIGINT)")
    return words


def prepare(run: BatchRun, at: int, walker: Walker, parts: str, conds: str | None, n_auto: int) -> int:
    """WALK for the leads of `parts` (lead_id, part, n): their moving events by T and their times
    with a condition that holds (from `conds`, None when no lead was replayed in SQL). Returns the
    number of mask words."""
    con = run.con
    slot = next((s.column for s in run.schema.events.of("stage") if s.kind == "str"), None)
    target = f"e.{q.ident(slot)}" if slot else "CAST(NULL AS VARCHAR)"
    eid = "e.id" if run.schema.has_event_id else "CAST(NULL AS VARCHAR)"
    ts = 'epoch_us(e."timestamp")'
    words = len(_mask_sql("c", n_auto))
    names = [f"m{w}" for w in range(words)]
    if conds is not None:
        masks = ", ".join(f"{m} AS {n}" for m, n in zip(_mask_sql("c", n_auto), names, strict=True))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _bl_cm AS SELECT p.part, p.n, c._ls_t AS t, {masks} "
            f"FROM {conds} AS c JOIN {parts} AS p ON p.lead_id = c.lead_id WHERE "
            + " OR ".join(f"{n} <> 0" for n in names)
        )
    else:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _bl_cm (part INTEGER, n BIGINT, t BIGINT, "
            + ", ".join(f"{n} BIGINT" for n in names)
            + ")"
        )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _bl_mv AS SELECT p.part, p.n, e.lead_id, {ts} AS t, e._ls_ord AS o, e.type, "
        f"{eid} AS eid, {target} AS target FROM events AS e JOIN {parts} AS p ON p.lead_id = e.lead_id "
        f"WHERE e.type IN {q.text_list(walker.moving)} AND {ts} <= {int(at)}"
    )
    # the first event of each (lead, time) that has a moving event: a later one comes `again`. The events
    # at a time of no moving event are left out first by that time alone (a test of an integer, where
    # the join hashed every event's lead id text: 0.22 CPU s of a part of 100,000 leads x 50 events)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _bl_mv0 AS SELECT x.n, x.t, min(e._ls_ord) AS o FROM events AS e "
        f"JOIN (SELECT DISTINCT lead_id, n, t FROM _bl_mv) AS x ON x.lead_id = e.lead_id AND x.t = {ts} "
        f"WHERE {ts} IN (SELECT t FROM _bl_mv) GROUP BY x.n, x.t"
    )
    zero = ", ".join(f"coalesce(c.{n}, 0) AS {n}" for n in names)
    # a condition row with the masks of the row before it (a move or the conditions at an earlier
    # time, rows with no condition left out) moves nothing: the automatic transitions ran to their
    # end with those very conditions there, and nothing moved the stage since
    same = " AND ".join(f"coalesce({n} = lag({n}) OVER w, FALSE)" for n in names)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {WALK} AS SELECT * EXCLUDE (_same) FROM (SELECT *, "
        f"kind = {CONDITIONS} AND {same} AS _same FROM ("
        f"SELECT m.part, m.n, m.t, {EVENT} AS kind, m.o, m.type, m.eid, m.target, m.o > f.o AS again, {zero} "
        "FROM _bl_mv AS m JOIN _bl_mv0 AS f ON f.n = m.n AND f.t = m.t "
        "LEFT JOIN _bl_cm AS c ON c.n = m.n AND c.t = m.t "
        f"UNION ALL SELECT c.part, c.n, c.t, {CONDITIONS}, NULL, NULL, NULL, NULL, FALSE, "
        + ", ".join(f"c.{n}" for n in names)
        + " FROM _bl_cm AS c) WINDOW w AS (PARTITION BY n ORDER BY t, kind, o)) "
        "WHERE NOT _same ORDER BY part, n, t, kind, o"
    )
    for table in ("_bl_cm", "_bl_mv", "_bl_mv0"):
        con.execute(f"DROP TABLE {table}")
    return words


def part_rows(con: duckdb.DuckDBPyConnection, part: int, words: int) -> tuple[list[int], Cols]:
    """WALK's rows of one part: the lead number of each row, and the columns `Walker.walk` reads."""
    masks = ", ".join(f"m{w}" for w in range(words))
    rows = con.sql(
        f"SELECT n, t, kind, type, eid, target, again, {masks} FROM {WALK} WHERE part = {int(part)} "
        "ORDER BY n, t, kind, o"
    ).to_arrow_table()
    cols = [rows.column(i).to_pylist() for i in range(rows.num_columns)]
    mask = cols[7]
    for w in range(1, words):  # a model with more automatic transitions than one word holds
        mask = [m | x << (BITS * w) for m, x in zip(mask, cols[7 + w], strict=True)]
    return cols[0], (cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], mask)


def drop_idle(con: duckdb.DuckDBPyConnection, conds: str, model: ScoringModel, at: int, ids: str) -> None:
    """Drop the rows of the conditions table `conds` (lead_id, _ls_t, _ls_c0..) that cannot move a
    stage, before T: those at a time with no event that has a transition of its own (nor a
    `stage_set`) whose conditions are all false, or the same as at the lead's time before (NULL
    counts as false). The replay is unchanged: after the events of a time, the stage is one the
    automatic transitions leave alone under that time's conditions (they run until none applies), so
    the same conditions at the next time move nothing, and all-false ones never do. A dropped row
    reads as all false (`coalesce`), which the fold (`stage_sql._replay_sql`) and the walk skip.
    Most of a lead's times repeat the conditions before them: the fold then walks a few events."""
    lc = model.lifecycle
    n = len(auto_conditions(model))
    if lc is None or not n:
        return
    moving = moving_types(lc)
    c = [f"coalesce(_ls_c{k}, FALSE)" for k in range(n)]
    same = " AND ".join(f"{x} = coalesce(lag({x}) OVER w, FALSE)" for x in c)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _bl_idle AS SELECT * EXCLUDE (_keep) FROM (SELECT k.*, k._ls_t >= {int(at)} "
        f"OR m.lead_id IS NOT NULL OR NOT ({same}) AS _keep FROM {conds} AS k LEFT JOIN (SELECT DISTINCT lead_id, "
        f'epoch_us("timestamp") AS t FROM events WHERE type IN {q.text_list(moving)} AND lead_id IN '
        f"(SELECT lead_id FROM {ids})) AS m ON m.lead_id = k.lead_id AND m.t = k._ls_t "
        "WINDOW w AS (PARTITION BY k.lead_id ORDER BY k._ls_t)) WHERE _keep"
    )
    con.execute(f"DROP TABLE {conds}")
    con.execute(f"ALTER TABLE _bl_idle RENAME TO {conds}")
