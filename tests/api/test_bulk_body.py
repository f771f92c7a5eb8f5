"""The bulk body read in one call (`_all_good`) equals the event-by-event read whenever it accepts a body,
and leaves every other body to it (which names what is wrong where)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.api.intake import parse_items
from leadscore.api.problems import Refused
from leadscore.api.routes.events import _all_good, _batch

LIMIT = 20

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner))
ids = st.one_of(st.text(min_size=0, max_size=6), st.integers(), st.none())
timestamps = st.sampled_from(["2026-05-30T10:00:00Z", "2026-05-30", "2026-05-30T10:00:00+02:00", "yesterday", ""])


@st.composite
def events(draw: st.DrawFn) -> Any:
    event: dict[str, Any] = {
        "lead_id": draw(ids),
        "type": draw(st.sampled_from(["page_view", "email_click", "bad type", ""])),
        "timestamp": draw(timestamps),
    }
    if draw(st.booleans()):
        event["id"] = draw(ids)
    if draw(st.booleans()):
        event["properties"] = draw(st.dictionaries(st.text(max_size=5), values, max_size=4))
    if draw(st.integers(0, 9)) == 0:
        event["extra"] = 1
    if draw(st.integers(0, 9)) == 0:
        del event[draw(st.sampled_from(["lead_id", "type", "timestamp"]))]
    return event if draw(st.integers(0, 19)) else draw(scalars)


def _slow(raw: bytes) -> list[Any] | str:
    try:
        good, bad = parse_items(_batch(raw, LIMIT), ("body", "events"))
    except Refused:
        return "refused"
    return "bad" if bad else [item.to_event() for _, item in good]


@settings(max_examples=300, deadline=None)
@given(st.lists(events(), max_size=LIMIT + 2), st.sampled_from(["plain", "extra key", "spaces"]))
def test_one_call_read_equals_the_event_by_event_read(items: list[Any], shape: str) -> None:
    body: dict[str, Any] = {"events": items}
    if shape == "extra key":
        body["more"] = 1
    raw = json.dumps(body, indent=1 if shape == "spaces" else None).encode()
    fast = _all_good(raw, LIMIT)
    slow = _slow(raw)
    if fast is None:
        assert slow in ("refused", "bad")
    else:
        assert slow == [item.to_event() for item in fast]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"events": []}',
        b'{"events": [{"lead_id": "a", "type": "t", "timestamp": "2026-05-30"}], "x": 1}',
        b'{"events": [{"lead_id": "a", "type": "t", "timestamp": "2026-05-30", "properties": {"x": NaN}}]}',
        b'{"events": [{"lead_id": "a", "type": "t", "timestamp": "2026-05-30", "properties": {"x": "\\ud800"}}]}',
        b'\xef\xbb\xbf{"events": [{"lead_id": "a", "type": "t", "timestamp": "2026-05-30"}]}',
        b'{"events": [{"lead_id": "a", "type": "t", "timestamp": "2026-05-30"}]} trailing',
        b"not json",
    ],
)
def test_bodies_left_to_the_event_by_event_read(raw: bytes) -> None:
    assert _all_good(raw, LIMIT) is None


def test_more_events_than_the_limit_are_left_to_the_read_that_refuses_them() -> None:
    items = [{"lead_id": "a", "type": "t", "timestamp": "2026-05-30"}] * (LIMIT + 1)
    raw = json.dumps({"events": items}).encode()
    assert _all_good(raw, LIMIT) is None
    with pytest.raises(Refused):
        _batch(raw, LIMIT)
