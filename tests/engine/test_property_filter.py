"""One-property event filters (`timeline.PropertyFilter`): a timeline runs their test once per distinct
text value, and must find exactly the events that testing each event finds; equal `where:` clauses
compile to one filter, so a timeline finds their events once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.domain import Event
from leadscore.engine.compile import compile_where
from leadscore.engine.timeline import PropertyFilter, Timeline
from leadscore.model.predicates import Predicate

T0 = datetime(2026, 5, 1, tzinfo=UTC)
# values that compare equal across types (1, 1.0, True, "1") and the missing one
VALUES = st.sampled_from([None, "a", "A", "b", "1", "", 1, 1.0, 0, True, False, 2.5, "pricing", "Pricing page"])
PREDICATES = st.sampled_from(
    [
        {"eq": "a"},
        {"eq": 1},
        {"eq": True},
        {"ne": "a"},
        {"in": ["a", "b", 1]},
        {"not_in": ["a", True]},
        {"gt": 0},
        {"lte": "b"},
        {"between": [0, 2]},
        {"contains": "pric"},
        {"matches": "^[A-Z]"},
        {"exists": False},
        {"exists": True, "ne": ""},
    ]
)


def _events(values: list[Any]) -> list[Event]:
    out = []
    for i, value in enumerate(values):
        props = {} if value is None else {"p": value}
        out.append(Event.of("L", "page_view" if i % 3 else "email_open", T0 + timedelta(hours=i), **props))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(VALUES, max_size=30), PREDICATES)
def test_matching_finds_what_testing_each_event_finds(values: list[Any], predicate: dict[str, Any]) -> None:
    where = compile_where({"p": Predicate.model_validate(predicate)})
    assert isinstance(where, PropertyFilter)
    timeline = Timeline(_events(values))
    for types in (("page_view",), ("email_open", "page_view")):
        found = timeline.matching(types, where)
        expected = [(e.ts, seq, e) for seq, e in enumerate(timeline.events) if e.type in types and where(e)]
        assert list(zip(found.ts, found.seq, found.events, strict=True)) == expected


def test_equal_where_clauses_compile_to_one_filter() -> None:
    first = compile_where({"p": Predicate.model_validate({"in": ["a", "b"]})})
    assert compile_where({"p": Predicate.model_validate({"in": ["a", "b"]})}) is first
    assert compile_where({"p": Predicate.model_validate({"in": ["a", 1]})}) is not first
    assert compile_where({"q": Predicate.model_validate({"in": ["a", "b"]})}) is not first
