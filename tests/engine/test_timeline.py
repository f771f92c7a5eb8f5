"""`Timeline.extend`: a timeline extended with events at or after its last one holds what a timeline built
from all of them holds, including the events it had already found for a filter (`matching`) before."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.domain import Event
from leadscore.engine.compile import compile_where
from leadscore.engine.timeline import Matched, Timeline
from leadscore.model.predicates import Predicate

T0 = 1_780_000_000_000_000
TYPES = ("page_view", "email_click", "form")
# a one-property filter (PropertyFilter), one over several properties (a plain function), none
WHERES: list[Any] = [
    compile_where({"path": Predicate.model_validate({"contains": "pric"})}),
    compile_where({"path": Predicate.model_validate({"contains": "pric"}), "n": Predicate.model_validate({"gt": 1})}),
    None,
]
LOOKS = [(types, where) for types in (("page_view",), ("email_click", "page_view"), ("absent",)) for where in WHERES]
EVENT = st.tuples(
    st.integers(0, 3), st.sampled_from(TYPES), st.sampled_from(["/pricing", "/blog", None]), st.integers(0, 3)
)


def _events(rows: list[tuple[int, str, str | None, int]], start: int, first: int) -> list[Event]:
    """Events in time order from `start` (ties in input order), ids numbered from `first`."""
    out, ts = [], start
    for n, (step, type_, path, count) in enumerate(rows, first):
        ts += step * 1_000_000
        props = {"n": count} if path is None else {"path": path, "n": count}
        out.append(Event.stored("L", type_, ts, props, f"e{n}"))
    return out


def _same(a: Matched, b: Matched) -> bool:
    return a.ts == b.ts and a.seq == b.seq and a.events == b.events


@settings(max_examples=60, deadline=None)
@given(
    old=st.lists(EVENT, max_size=12),
    batches=st.lists(st.lists(EVENT, max_size=5), min_size=1, max_size=3),
    looked=st.lists(st.sampled_from(range(len(LOOKS))), max_size=4),
)
def test_an_extended_timeline_equals_one_built_from_all_its_events(
    old: list[tuple[int, str, str | None, int]],
    batches: list[list[tuple[int, str, str | None, int]]],
    looked: list[int],
) -> None:
    events = _events(old, T0, 0)
    timeline = Timeline(list(events), until=T0 + 10**12)
    for batch in batches:
        for i in looked:  # found before the extension: extended with it, not found again
            timeline.matching(*LOOKS[i])
        # the new events start at the last one's time or later (ties included)
        new = _events(batch, events[-1].ts if events else T0, len(events))
        timeline.extend(new)
        events += new
        whole = Timeline(events, until=T0 + 10**12)
        assert timeline.events == whole.events
        assert set(timeline.by_type) == set(whole.by_type)
        assert all(_same(timeline.by_type[t], whole.by_type[t]) for t in whole.by_type)
        for types, where in LOOKS:
            assert _same(timeline.matching(types, where), whole.matching(types, where))
            for at in (T0, T0 + 2_000_000, events[-1].ts if events else T0):
                assert list(timeline.select(types, at, 3_000_000, where)) == list(
                    whole.select(types, at, 3_000_000, where)
                )
