"""Events read back from the store (`Event.stored`) are the events that were stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadscore.domain.events import Event, received
from leadscore.domain.timeutil import to_micros

# around the epoch, with microseconds, and the ends of the range
WHENS = [
    datetime(2026, 5, 30, 10, 0, tzinfo=UTC),
    datetime(2026, 5, 30, 10, 0, 0, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
]


@pytest.mark.parametrize("when", WHENS)
def test_a_stored_event_equals_the_event_built_from_its_timestamp(when: datetime) -> None:
    built = Event("lead-1", "page_view", when, {"path": "/pricing"}, "e-1")
    read = Event.stored("lead-1", "page_view", to_micros(when), {"path": "/pricing"}, "e-1")
    assert read == built
    assert (read.ts, read.timestamp, read.timestamp.tzinfo) == (built.ts, built.timestamp, built.timestamp.tzinfo)
    assert repr(read) == repr(built)


def test_a_stored_event_is_frozen_like_any_other() -> None:
    read = Event.stored("lead-1", "page_view", 0, {}, None)
    assert read.id is None
    assert read.timestamp == datetime(1970, 1, 1, tzinfo=UTC)
    with pytest.raises(AttributeError):
        read.type = "other"  # type: ignore[misc]


@pytest.mark.parametrize("when", WHENS)
@pytest.mark.parametrize("event_id", ["e-1", None])
def test_a_received_event_equals_the_event_built_by_its_constructor(when: datetime, event_id: str | None) -> None:
    props = {"path": "/pricing", "n": 3}
    built = Event("lead-1", "page_view", when, props, event_id)
    made = received("lead-1", "page_view", when, props, event_id)
    assert made == built
    assert (made.ts, made.timestamp, made.id) == (built.ts, built.timestamp, built.id)
    assert made.properties is props
    assert made.ts == to_micros(when)
    assert repr(made) == repr(built)
    with pytest.raises(AttributeError):
        made.type = "other"  # type: ignore[misc]
