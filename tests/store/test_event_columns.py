"""Plain events as columns (`EventColumns`) are the events they hold: the same events one by one, the
same rows as `event_row_tuples` makes of those events, the same parts; and only events no later check
can refuse are taken as plain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.domain import Event
from leadscore.domain.numbers import MAX_MAGNITUDE
from leadscore.store.event_columns import EventColumns
from leadscore.store.events_repo import event_row_tuples
from leadscore.store.ingest import event_problems

flat = st.dictionaries(
    st.text(max_size=4),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-MAX_MAGNITUDE, MAX_MAGNITUDE),
        st.floats(-(2.0**53), 2.0**53),
        st.text(max_size=5),
    ),
    max_size=4,
)
rows = st.tuples(
    st.one_of(st.none(), st.sampled_from(["e1", "e2", "e3", "e4"])),
    st.sampled_from(["a", "b", "alias-1"]),
    st.sampled_from(["page_view", "email_click"]),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
    flat,
)


def _columns(items: list[tuple[Any, ...]]) -> EventColumns | None:
    ids, leads, types, times, props = (list(c) for c in zip(*items, strict=True)) if items else ([], [], [], [], [])
    plain = EventColumns.plain(types, props)
    return None if plain is None else EventColumns(ids, leads, types, times, plain)


def _events(items: list[tuple[Any, ...]]) -> list[Event]:
    return [
        Event(lead, kind, when, {k: v for k, v in props.items() if v is not None}, key)
        for key, lead, kind, when, props in items
    ]


@settings(max_examples=150, deadline=None)
@given(st.lists(rows, max_size=10), st.integers(0, 10), st.integers(0, 10))
def test_columns_are_their_events_and_rows(items: list[tuple[Any, ...]], start: int, stop: int) -> None:
    columns = _columns(items)
    assert columns is not None
    events = _events(items)
    assert list(columns) == events and len(columns) == len(events)
    assert columns.ts == [e.ts for e in events]
    assert all(type(e.properties) is dict for e in columns)
    resolved = {"alias-1": "a"}
    assert event_row_tuples(columns, resolved, 7) == event_row_tuples(events, resolved, 7)
    part = columns[start:stop]
    assert isinstance(part, EventColumns) and list(part) == events[start:stop]
    assert event_row_tuples(part, resolved, 7) == event_row_tuples(events[start:stop], resolved, 7)
    assert event_problems(None, columns, list(range(len(columns))), "request") == []  # type: ignore[arg-type]


def _one(kind: str = "page_view", **props: Any) -> EventColumns | None:
    return _columns([("e1", "a", kind, datetime(2026, 5, 30, tzinfo=UTC), props)])


@pytest.mark.parametrize(
    ("kind", "props"),
    [
        ("stage_set", {"stage": "mql"}),  # the model checks these (`CHECKED_TYPES`)
        ("identify", {"anonymous_id": "v1"}),
        ("page_view", {"n": MAX_MAGNITUDE + 1}),  # refused by the service, which names it
        ("page_view", {"n": -float(2**54)}),
        ("page_view", {"tags": ["a"]}),  # nested: its depth is checked one by one
        ("page_view", {"o": {"a": 1}}),
    ],
)
def test_only_events_no_later_check_refuses_are_plain(kind: str, props: dict[str, Any]) -> None:
    assert _one(kind, **props) is None
    assert _one("page_view", n=MAX_MAGNITUDE, x=-float(2**53), t=True, gone=None) is not None


def test_times_in_other_zones_and_at_the_edges_give_their_microseconds() -> None:
    times = [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        datetime(2026, 5, 30, 10, tzinfo=UTC) + timedelta(microseconds=7),
    ]
    columns = EventColumns([None] * 4, ["a"] * 4, ["t"] * 4, times, [{}] * 4)
    assert columns.ts == [Event("a", "t", when).ts for when in times]
