"""The stage-history rows of a part's leads at once (`bulk.stage_rows`) are `results_repo.stage_move_rows`
of each lead, in order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.bulk.stage_rows import stage_rows
from leadscore.domain.result import StageColumns
from leadscore.store.results_repo import stage_move_rows

_STAGES = ["lead", "mql", "sql", "recycled"]
_CHANGE = st.tuples(
    st.sampled_from(_STAGES),
    st.one_of(st.none(), st.sampled_from(_STAGES)),
    st.sampled_from(["auto", "event:demo", "manual", "initial"]),
    st.one_of(st.none(), st.sampled_from(["e1", "e2"])),
    st.integers(0, 20),
)
_LEAD = st.tuples(
    st.lists(_CHANGE, max_size=5),  # its changes (the first one its initial entry, as the walk gives)
    st.one_of(st.none(), st.sampled_from(_STAGES)),  # its new stage (None: no rows made)
    st.one_of(st.none(), st.tuples(st.integers(-1, 21), st.one_of(st.none(), st.sampled_from(_STAGES)))),
    st.integers(0, 30),  # its evaluation time
)


@settings(max_examples=300, deadline=None)
@given(leads=st.lists(_LEAD, max_size=6), skip=st.lists(st.booleans(), max_size=6))
def test_stage_rows_are_stage_move_rows_lead_by_lead(
    leads: list[
        tuple[list[tuple[str, str | None, str, str | None, int]], str | None, tuple[int, str | None] | None, int]
    ],
    skip: list[bool],
) -> None:
    """Leads with and without a stored result, with changes after its time or none, into their new
    stage or not, leads left out (skipped by the pass, or with no stage): the same rows in the same order."""
    to: list[str] = []
    froms: list[str | None] = []
    causes: list[str] = []
    eids: list[str | None] = []
    times: list[int] = []
    first = [0]
    for changes, _, _, _ in leads:
        for k, (stage, previous, cause, eid, t) in enumerate(changes):
            to.append(stage)
            froms.append(None if k == 0 else previous)
            causes.append("initial" if k == 0 else cause)
            eids.append(eid)
            times.append(t)
        first.append(len(to))
    columns = StageColumns(to, froms, causes, eids, times)
    ids = [f"l{i}" for i in range(len(leads))]
    versions = [f"v{i % 2}" for i in range(len(leads))]
    stages = [stage for _, stage, _, _ in leads]
    evaluated = [when for _, _, _, when in leads]
    stored = [None if s is None else {"evaluated_at": s[0], "stage": s[1]} for _, _, s, _ in leads]
    chosen = [i for i in range(len(leads)) if stages[i] is not None and not (i < len(skip) and skip[i])]
    expected = []
    for i in chosen:
        stage = stages[i]
        assert stage is not None
        expected += stage_move_rows(
            ids[i], versions[i], stage, evaluated[i], columns, first[i], first[i + 1], stored[i], "model:v"
        )
    got = stage_rows(chosen, ids, versions, stages, evaluated, [stored[i] for i in chosen], columns, first, "model:v")
    assert got == expected
