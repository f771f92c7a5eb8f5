"""The replay's score conditions evaluated only at the rows where the replay may read them.

A lifecycle's automatic condition is read from its transition's sources only. Where it holds, the
automatic transitions run until none applies (`engine.lifecycle_replay`), so the lead ends that time
outside the sources; unless it may then be in a stage from which other automatic transitions lead
back (`stage_sql.reentries`), it stays out of their reach until an event that may bring it back
(`stage_sql.relevance`' types). The b2b example's MQL condition (a total and an engagement score) is
read from `subscriber` and `lead` only: after a lead's first time where it holds, it is unread until a
`sales_rejected` or `stage_set` - at about two thirds of a part's rows. Those rows need no score:
the rules, dimensions and their aggregates (`frame_windows.Aggregates`, whose prefix sums over every
row are made once) are evaluated at the others alone.

Which rows those are depends on where the condition first holds, so the rows are evaluated in
rounds: each round the next few unevaluated rows of each lead that may still read a score condition
(twice as many as the round before), until every row that may read one is evaluated. A row's value
where no replay reads it is TRUE after the time where the condition held (the same as that time's:
`frames._moves` keeps no row for it) and FALSE before the lead may reach a source (`frames._unread`).
The conditions of counts and the lead's row alone are evaluated at every row, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from leadscore.bulk import frame_bounds
from leadscore.bulk.frame_rows import Rows
from leadscore.bulk.frame_scores import Conditions, reads_score
from leadscore.bulk.frame_windows import Aggregates, prefix
from leadscore.model.spec import ScoringModel
from leadscore.sql.stage_sql import reentries
from leadscore.sql.stage_windows import ENTERS, RETURNS
from leadscore.sql.window_compiler import Frame

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from leadscore.sql.stage_arrays import ArrayPlan

RETURNS_INIT = "_ls_iq"  # `frames._lead_values`' columns k: the lead's initial stage may be one of `reentries`' Q
FIRST_ROUND = 16  # rows of each lead evaluated by the first round (the b2b example: 12-32 cost the same, 8 more)


@dataclass(frozen=True)
class Gate:
    """Which conditions are evaluated where they are read: the score conditions (`scored`), each
    with whether a time where it holds ends its reading (`resets`), and the rest (`plain`)."""

    scored: list[int]
    plain: list[int]
    resets: dict[int, bool]
    returns: dict[int, bool]  # k: a lead may return through `reentries`' Q (the flag RETURNS{k} is read)

    @classmethod
    def of(cls, model: ScoringModel, plan: ArrayPlan) -> Gate | None:
        """None when no score condition's reading ends anywhere (then nothing is saved)."""
        lc = model.lifecycle
        if lc is None:
            return None
        back = reentries(lc)
        scored = [k for k, c in enumerate(plan.conditions) if reads_score(c)]
        if not any(back[k] is not None for k in scored):
            return None
        plain = [k for k in range(len(plan.conditions)) if k not in scored]
        resets = {k: back[k] is not None for k in scored}
        returns = {k: bool(r and r[1]) for k in scored if (r := back[k]) is not None}
        return cls(scored, plain, resets, returns)

    def initial(self, init_sql: dict[int, str]) -> list[tuple[str, str]]:
        """The lead's columns `values` reads (SQL, name), from each k's SQL of 'the initial stage is one of Q'."""
        return [(sql, f"{RETURNS_INIT}{k}") for k, sql in init_sql.items() if self.returns.get(k)]


class _At:
    """The `frame_scores._Rows` of some kept rows: the rows' times and those rows' positions."""

    def __init__(self, ts: np.ndarray, out: np.ndarray) -> None:
        self.ts, self.out = ts, out


def values(
    gate: Gate,
    conds: Conditions,
    frames: dict[str, Frame],
    rows: Rows,
    lead_of: np.ndarray,
    leads: pa.Table,
    read_init: dict[int, np.ndarray],
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """(certainly true, certainly false) of every condition at each kept row of `rows`, the score
    conditions evaluated only where `gate` says they may be read (and at a few rows more); None when
    the SQL must compute them. `read_init`: per condition, whether each lead's initial stage may lead
    to a source (`frames._initial_reads`, per row of `leads`)."""
    import numpy as np

    aggs = Aggregates(rows, nulls=False)
    m = len(rows.out)
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if gate.plain:
        plain = conds.values(rows, aggs.at(_of(frames, conds.aliases(gate.plain))), lead_of, gate.plain)
        if plain is None:
            return None
        found.update(zip(gate.plain, plain, strict=True))
    out = rows.out
    g = rows.g[out]
    first_row = rows.lead_start[g]  # each kept row's lead's first row
    lead_first = np.searchsorted(out, rows.lead_start)[g]  # and its first kept row (a position in `out`)
    time_first = np.zeros(m, dtype=np.int64)  # the first row of each kept row's time
    time_first[1:] = out[:-1] + 1
    entered, reopen, may_return = {}, {}, {}
    for k in gate.scored:
        e = prefix(rows.flag(f"{ENTERS}{k}"))
        entered[k] = read_init[k][lead_of] | (e[out + 1] - e[first_row] > 0)
        reopen[k] = e[out + 1] - e[time_first] > 0
        if gate.returns.get(k):
            r = prefix(rows.flag(f"{RETURNS}{k}"))
            init = leads.column(f"{RETURNS_INIT}{k}").to_numpy(zero_copy_only=False)[lead_of]
            may_return[k] = init | (r[out + 1] - r[first_row] > 0)
    wanted = _of(frames, conds.aliases(gate.scored))
    counted = _of(wanted, frame_bounds.counted(conds, set(wanted)))
    sure = {k: np.zeros(m, dtype=bool) for k in gate.scored}
    never = {k: np.zeros(m, dtype=bool) for k in gate.scored}
    held = {k: np.zeros(m, dtype=bool) for k in gate.scored}  # evaluated and certainly true: its reading ends
    evaluated = np.zeros(m, dtype=bool)
    # the rows of the leads that may still have rows to evaluate (positions in `out`; None: every row):
    # each round looks at those alone, fewer and fewer (most leads are done after a round or two)
    act: np.ndarray | None = None
    batch = FIRST_ROUND
    while True:
        lg = g if act is None else g[act]
        first = lead_first if act is None else _firsts(lg)
        pending = ~(evaluated if act is None else evaluated[act])
        wanted_rows = np.zeros(len(lg), dtype=bool)
        reads = []  # per score condition, whether each row may read it
        for k in gate.scored:
            e = entered[k] if act is None else entered[k][act]
            if gate.resets[k] and act is not None:  # (the first round: nothing held yet, nothing closed)
                e = e & ~_closed(held[k][act], reopen[k][act], first)
            wanted_rows |= e
            reads.append(e)
        pending &= wanted_rows
        if not pending.any():
            break
        # the next `batch` pending rows of each lead
        count = np.cumsum(pending, dtype=np.int64)
        rank = count - (count[first] - pending[first])
        picked = pending & (rank <= batch)
        local = np.flatnonzero(picked)
        sel = local if act is None else act[local]
        got = _evaluated(
            conds, aggs, (wanted, counted), _At(rows.ts, out), sel, lead_of, gate.scored, [e[local] for e in reads]
        )
        if got is None:
            return None
        for k, (s, f) in zip(gate.scored, got, strict=True):
            sure[k][sel], never[k][sel] = s, f
            held[k][sel] = s if k not in may_return else s & ~may_return[k][sel]
        evaluated[sel] = True
        left = pending & ~picked
        open_leads = np.zeros(len(rows.lead_start), dtype=bool)
        open_leads[lg[left]] = True
        keep = open_leads[lg]
        act = np.flatnonzero(keep) if act is None else act[keep]
        batch *= 2
    for k in gate.scored:
        needed = entered[k] & ~_closed(held[k], reopen[k], lead_first) if gate.resets[k] else entered[k]
        unread = entered[k] & ~needed  # after a time where it held: TRUE, as there
        found[k] = (np.where(needed, sure[k], unread), np.where(needed, never[k], ~unread))
    return [found[k] for k in range(len(found))]


def _evaluated(
    conds: Conditions,
    aggs: Aggregates,
    frames: tuple[dict[str, Frame], dict[str, Frame]],
    kept: _At,
    sel: np.ndarray,
    lead_of: np.ndarray,
    ks: list[int],
    reads: list[np.ndarray],
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """(certainly true, certainly false) of the conditions `ks` at the kept rows `sel` (positions in
    `kept.out`) where `reads` (per condition, per row of `sel`) says the replay may read them: from the
    score bounds of the counts (`frame_bounds`) where they decide every condition the row may read,
    exactly at the other rows alone (their epoch sums and latest times gathered there only). A
    condition's value where the row may not read it is never read: neither where it is kept nor where
    its hold ends a reading (`_closed`: a row the reading cannot reach yet ends none sooner)."""
    import numpy as np

    wanted, counted = frames
    starts: dict[int | None, np.ndarray] = {}
    cols = aggs.at(counted, sel, starts)
    at = _At(kept.ts, kept.out[sel])
    bound = frame_bounds.decided(conds, at, cols, lead_of[sel], ks)
    left = np.zeros(len(sel), dtype=bool)
    for (sure, never), read in zip(bound, reads, strict=True):
        left |= read & ~(sure | never)
    rest = np.flatnonzero(left)
    if not len(rest):
        return bound
    sub = sel[rest]
    exact = aggs.at({a: f for a, f in wanted.items() if a not in counted}, sub, {m: s[rest] for m, s in starts.items()})
    for alias, col in cols.items():  # the counts' columns: (values, NULL mask) pairs
        assert isinstance(col, tuple)
        exact[alias] = (col[0][rest], None if col[1] is None else col[1][rest])
    got = conds.values(_At(kept.ts, kept.out[sub]), exact, lead_of[sub], ks)
    if got is None:
        return None
    for (sure, never), (s, f) in zip(bound, got, strict=True):
        sure[rest], never[rest] = s, f
    return bound


def _firsts(lead: np.ndarray) -> np.ndarray:
    """Each row's lead's first row (`lead`: each row's lead, grouped)."""
    import numpy as np

    new = np.ones(len(lead), dtype=bool)
    if len(lead) > 1:
        np.not_equal(lead[1:], lead[:-1], out=new[1:])
    firsts: np.ndarray = np.maximum.accumulate(np.where(new, np.arange(len(lead)), 0))
    return firsts


def _of(frames: dict[str, Frame], aliases: set[str]) -> dict[str, Frame]:
    return {a: f for a, f in frames.items() if a in aliases}


def _closed(held: np.ndarray, reopen: np.ndarray, lead_first: np.ndarray) -> np.ndarray:
    """Whether an earlier kept row of the row's lead held (`held`) with no row reopening (`reopen`: an
    event that may bring the lead back at its time) after it, up to the row itself."""
    import numpy as np

    idx = np.arange(len(held))
    last_held = np.full(len(held), -1, dtype=np.int64)  # the last held row before each row
    if len(held) > 1:
        last_held[1:] = np.maximum.accumulate(np.where(held, idx, -1))[:-1]
    last_reopen = np.maximum.accumulate(np.where(reopen, idx, -1))
    closed: np.ndarray = (last_held >= lead_first) & (last_held >= last_reopen)
    return closed
