"""The bulk body read in one call (`events_of`) equals the event-by-event read whenever it accepts a body,
and leaves every other body to it (which names what is wrong where); plain events it keeps as columns
make the same rows as the events the event-by-event read gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.api.bulk_body import events_of
from leadscore.api.intake import parse_items
from leadscore.api.problems import Refused
from leadscore.api.routes.events import _batch
from leadscore.store.event_columns import EventColumns
from leadscore.store.events_repo import event_row_tuples

LIMIT = 20

# a NUL; the text `\u0000` (JSON: an escaped backslash before "u0000", which holds none)
texts = st.one_of(st.text(max_size=8), st.sampled_from(["v\x00", "\x00", "\\u0000"]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
keys = st.one_of(st.text(max_size=5), st.sampled_from(["k\x00", "k" * 255, "k" * 256]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner))
# NULs and lengths around the limit: the one-call read checks those in other words than `EventIn`
ids = st.one_of(
    st.text(min_size=0, max_size=6),
    st.sampled_from(["a\x00", "\x00", "x" * 255, "x" * 256, "é" * 255, "\\u0000"]),
    st.integers(),
    st.none(),
)
timestamps = st.one_of(
    st.sampled_from(
        ["2026-05-30T10:00:00Z", "2026-05-30", "2026-05-30T10:00:00+02:00", " 2026-05-30 ", "yesterday", "", "2026"]
    ),
    # out of range; around the length limits (parsed once stripped)
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:00-05:00", "2026", "2026-05-30" + " " * 54]),
    st.sampled_from(["2026-05-30" + " " * 55, " 202"]),
    # read by `datetime.fromisoformat` as sent, or only once stripped / with the Z as +00:00
    st.sampled_from(["2026-05-30T10:00:00 Z", "20260530T100000Z", "2026-05-30T10Z", "2026-05-30T10:00:00z"]),
    st.sampled_from(["2026-05-30Z", "2026-05-30T10:00:00.1234567Z", "2026-05-30T10:00:00\u3000", "2026-W22-6"]),
    st.integers(),
    st.none(),
)


@st.composite
def events(draw: st.DrawFn) -> Any:
    event: dict[str, Any] = {
        "lead_id": draw(ids),
        "type": draw(st.sampled_from(["page_view", "email_click", "bad type", "", "page_view\n", "identify"])),
        "timestamp": draw(timestamps),
    }
    if draw(st.booleans()):
        event["id"] = draw(ids)
    if draw(st.booleans()):
        event["properties"] = draw(st.dictionaries(keys, values, max_size=4))
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


def _compare(items: list[Any], shape: str) -> bool:
    """Both reads of the body; True when the one-call read accepted it."""
    body: dict[str, Any] = {"events": items}
    if shape == "extra key":
        body["more"] = 1
    return _compare_raw(json.dumps(body, indent=1 if shape == "spaces" else None).encode())


def _compare_raw(raw: bytes) -> bool:
    read = events_of(raw, LIMIT)
    slow = _slow(raw)
    if read is None:
        assert slow in ("refused", "bad")
        return False
    fast = list(read)
    assert slow == fast
    assert [e.ts for e in slow] == [e.ts for e in fast]  # not part of an event's equality
    assert [e.timestamp.tzinfo for e in slow] == [e.timestamp.tzinfo for e in fast]
    assert [type(e.properties) for e in fast] == [dict] * len(fast)
    if isinstance(read, EventColumns):
        resolved = {"a": "b"}
        assert event_row_tuples(read, resolved, 7) == event_row_tuples(slow, resolved, 7)
    return True


@settings(max_examples=300, deadline=None)
@given(st.lists(events(), max_size=LIMIT + 2), st.sampled_from(["plain", "extra key", "spaces"]))
def test_one_call_read_equals_the_event_by_event_read(items: list[Any], shape: str) -> None:
    _compare(items, shape)


@st.composite
def near_valid(draw: st.DrawFn) -> Any:
    """A valid event, or one with a single field drawn from the wide strategies above."""
    event: dict[str, Any] = {
        "lead_id": draw(st.text(min_size=1, max_size=6).filter(lambda t: "\x00" not in t)),
        "type": "page_view",
        "timestamp": "2026-05-30T10:00:00+02:00",
        "id": draw(st.none() | st.sampled_from(["e1", "x" * 255])),
        "properties": draw(st.dictionaries(st.text(max_size=5).filter(lambda t: "\x00" not in t), st.integers(0, 9))),
    }
    field = draw(st.sampled_from([None, "lead_id", "id", "timestamp", "properties"]))
    if field == "properties":
        event[field] = draw(st.dictionaries(keys, values, max_size=4))
    elif field is not None:
        event[field] = draw(timestamps if field == "timestamp" else ids)
    return event


@settings(max_examples=400, deadline=None)
@given(near_valid())
def test_one_event_bodies_read_alike(item: Any) -> None:
    """One event a body, valid but for at most one field: each check is met alone."""
    _compare([item], "plain")


_EVENT = '{"lead_id": "a", "type": "page_view", "timestamp": "2026-05-30T10:00:00Z", "properties": %s}'


@pytest.mark.parametrize(
    ("properties", "plain"),
    [
        ('{"x": 1.00000000000000011102230246251565404236316680908203125, "y": 2.2250738585072011e-308}', True),
        ('{"x": 9007199254740993}', False),  # out of range: the service refuses it and names it
        ('{"x": 123456789012345678901234567890}', False),
        ('{"x": 1e-400, "y": -0.0, "z": 5e-324, "w": 1E5}', True),
        ('{"x": 1, "x": "two", "y": null}', True),  # the last of a key's values, nulls dropped
        ('{"\\u0078": "\\u00e9\\ud83d\\ude00"}', True),  # escapes
        ('{"k\\u0000": 1}', None),  # a NUL
        ('{"t": "\\\\u0000"}', False),  # the text \u0000: no NUL, looked at one by one
        ("[" * 31 + "]" * 31, None),  # not an object
        ('{"d": ' + "[" * 31 + "]" * 31 + "}", False),  # nested as deep as allowed
        ('{"d": ' + "[" * 32 + "]" * 32 + "}", None),  # deeper
    ],
)
def test_unusual_properties_read_alike(properties: str, plain: bool | None) -> None:
    other = _EVENT.replace('"a"', '"b"') % "{}"
    raw = f'{{"events": [{_EVENT % properties}, {other}]}}'.encode()
    assert _compare_raw(raw) is (plain is not None)
    assert isinstance(events_of(raw, LIMIT), EventColumns) is bool(plain)


@pytest.mark.parametrize(
    "item",
    [
        '{"lead\\u005fid": "a", "type": "t", "timestamp": "2026-05-30T10:00:00+02:00"}',  # an escaped field name
        '{"lead_id": "a", "lead_id": "b", "type": "t", "timestamp": "2026-05-30T10:00:00"}',  # the last one
        '{"lead_id": "a", "type": "t", "timestamp": "2026-05-30T10:00:00.1234567-01:30", "id": null}',
        '{"lead_id": "a", "type": "identify", "timestamp": "2026-05-30", "properties": {"anonymous_id": "v"}}',
    ],
)
def test_unusual_events_read_alike(item: str) -> None:
    assert _compare_raw(f'{{"events": [{item}]}}'.encode())


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
    assert events_of(raw, LIMIT) is None


def test_more_events_than_the_limit_are_left_to_the_read_that_refuses_them() -> None:
    items = [{"lead_id": "a", "type": "t", "timestamp": "2026-05-30"}] * (LIMIT + 1)
    raw = json.dumps({"events": items}).encode()
    assert events_of(raw, LIMIT) is None
    with pytest.raises(Refused):
        _batch(raw, LIMIT)
