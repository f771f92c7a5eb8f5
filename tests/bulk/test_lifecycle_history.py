"""The history pass detects a lead's triggers once, on its result without the breakdown, and gives the
firings the payload `detect_triggers` gives for the whole result (`history_json.with_breakdown`, the
breakdown as `breakdown_dicts` reads the query's JSON text), or its JSON text (`payload_texts`)."""

from __future__ import annotations

import dataclasses
import functools
import json
import random
import re
from typing import TYPE_CHECKING

from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.bulk.history_json import breakdown_dicts, payload_texts, with_breakdown
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.engine import score
from leadscore.model import parse_model
from leadscore.store.backends import json_text
from leadscore.triggers.firings import detect_transitions, detect_triggers, firing
from tests.bulk.test_lifecycle import RECYCLE

if TYPE_CHECKING:
    import duckdb

MODEL = parse_model(RECYCLE)
TYPES = ["page_view", "demo_request", "email_bounce", "sales_accepted", "sales_rejected"]


def _events(seed: int, n: int) -> list[Event]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        typ = rnd.choice(TYPES)
        props = {"path": rnd.choice(["/", "/pricing"])} if typ == "page_view" else {}
        out.append(Event.of("l1", typ, f"2026-03-{1 + rnd.randrange(27):02d}T{rnd.randrange(24):02d}:00:00Z", **props))
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(0, 40), before=st.floats(-50, 150), first=st.booleans())
def test_firings_without_the_breakdown_get_the_whole_results_payload(
    seed: int, n: int, before: float, first: bool
) -> None:
    lead = Lead.of("l1", employees=200 if seed % 2 else 5)
    events = _events(seed, n)
    previous = None if first else score(MODEL, lead, events[: n // 2], "2026-03-10T00:00:00Z")
    current = score(MODEL, lead, events, "2026-03-29T00:00:00Z")
    whole = detect_triggers(MODEL, previous, current, score_before_window=lambda t: before)
    stripped = dataclasses.replace(current, breakdown=())
    # the breakdown's JSON as the query writes it: condition rules without `events` (result_shape)
    text = json.dumps([{k: v for k, v in b.to_dict().items() if v is not None} for b in current.breakdown])
    found = detect_transitions(MODEL, previous, stripped, score_before_window=lambda t: before)
    result = json_text({**stripped.to_dict(), "breakdown": breakdown_dicts(text)})
    texts = payload_texts(found, "l1", result)
    # the outbox's text of each payload, made around the result's text encoded once
    assert texts == [json_text(f.payload) for f in whole]
    got = with_breakdown([firing(f, stripped) for f in found], breakdown_dicts(text))
    assert [dataclasses.astuple(f) for f in got] == [dataclasses.astuple(f) for f in whole]
    assert [json.dumps(f.payload) for f in got] == [json.dumps(f.payload) for f in whole]
    # every payload owns its breakdown (a caller changing one changes no other)
    lists = [f.payload["data"]["result"]["breakdown"] for f in got]
    assert len({id(b) for b in lists}) == len(lists)
    assert len({id(e) for b in lists for e in b}) == sum(len(b) for b in lists)


def test_breakdown_dicts_are_to_dicts_of_the_entries_result_of_makes() -> None:
    """With `events` null or absent, points whole or not, keys in any order in the text."""
    from leadscore.domain.result import BreakdownEntry

    text = json.dumps(
        [
            {"rule": "visit", "dimension": "engagement", "points": 10.0, "events": 3},
            {"dimension": "fit", "rule": "big", "points": 15},
            {"rule": "cold", "dimension": "fit", "points": -2.5, "events": None},
            {"rule": "cap:engagement", "dimension": "engagement", "points": -4.0},
        ]
    )
    made = [BreakdownEntry(b["rule"], b["dimension"], b["points"], b.get("events")) for b in json.loads(text)]
    got = breakdown_dicts(text)
    assert got == [b.to_dict() for b in made]
    assert json.dumps(got) == json.dumps([b.to_dict() for b in made])


def test_breakdown_dicts_keep_the_querys_own_entries_and_remake_any_other() -> None:
    """The query's text (keys in `to_dict`'s order, null `events` dropped) decodes to the entries as
    they are; an entry with other keys' order or a null `events` is made again, so the payload's
    JSON is `to_dict`'s either way."""
    from leadscore.domain.result import BreakdownEntry

    entries = [
        BreakdownEntry("visit", "engagement", 10.0, 3),
        BreakdownEntry("big", "fit", 15.0),
        BreakdownEntry("cap:engagement", "engagement", -4.5),
    ]
    wanted = json.dumps([e.to_dict() for e in entries])
    shaped = json.dumps([e.to_dict() for e in entries], separators=(",", ":"))
    mixed = json.dumps(
        [
            {"points": 10.0, "rule": "visit", "dimension": "engagement", "events": 3},
            {"rule": "big", "dimension": "fit", "points": 15.0, "events": None},
            {"rule": "cap:engagement", "dimension": "engagement", "points": -4.5},
        ]
    )
    for text in (shaped, mixed):
        assert json.dumps(breakdown_dicts(text)) == wanted


def test_payload_texts_are_the_payloads_json_around_the_results_text() -> None:
    """Each kind's payload, with text to escape (quotes, non-ASCII) and no destination: the text made
    around the result's is `json_text` of the payload holding the result."""
    from datetime import UTC, datetime

    from leadscore.model.spec import Trigger
    from leadscore.triggers.firings import Fired, payload

    lead = 'l"1\u00e9'
    result = {"lead_id": lead, "score": 1.5, "labels": {"t": "h\u00f6t"}, "breakdown": [], "playbook": None}
    at = datetime(2026, 1, 1, 12, 30, 0, 5, tzinfo=UTC)
    found = [
        Fired(
            Trigger.model_validate({"id": "s-1", "on": "stage_changed", "to": "mql"}),
            "stage_changed",
            at,
            "lead",
            "mql",
            "k1",
            {"cause": "event:x", "event_id": 'e"1', "entry": 2},
        ),
        Fired(
            Trigger.model_validate({"id": "l", "on": "label_changed", "set": "t", "destination": 'd"\u00e9'}),
            "label_changed",
            at,
            None,
            "h\u00f6t",
            "k2",
            {"set": "t", "previous_at": None},
        ),
        Fired(
            Trigger.model_validate({"id": "b", "on": "score_changed", "by": {"gte": 1}, "within": "1d"}),
            "score_changed",
            at,
            0.1,
            1.5,
            "k3",
            {"within": "1d", "delta": 1.4, "window_start": "2025-12-31T12:30:00Z"},
        ),
    ]
    texts = payload_texts(found, lead, json_text(result))
    assert texts == [json_text(payload(f, lead, result)) for f in found]
    assert [json.loads(t)["data"]["result"] for t in texts] == [result] * 3


def test_breakdown_text_is_the_encoded_entries_respaced_or_not() -> None:
    """`breakdown_text` gives `json_text` of the decoded entries for the query's compact text
    (respaced, not decoded) and for any text it cannot respace safely: exponents, values Python
    writes otherwise, names with a quote, a comma, a leading colon or beyond ASCII, other keys' order."""
    from leadscore.bulk.history_json import _SHAPED, breakdown_text

    def compact(*entries: str) -> str:
        return "[" + ",".join(entries) + "]"

    shaped = [
        compact(),
        compact('{"rule":"visit","dimension":"engagement","points":10.0,"events":3}'),
        compact(
            '{"rule":"cap:engagement","dimension":"engagement","points":-0.0}',
            '{"rule":"a_b-1","dimension":"fit","points":0.7774277328708267,"events":0}',
            '{"rule":"z","dimension":"fit","points":1234567890123456.8}',
            '{"rule":"y","dimension":"fit","points":0.0001,"events":12}',
        ),
    ]
    other = [
        compact('{"rule":"a","dimension":"b","points":1e-05}'),
        compact('{"rule":"a","dimension":"b","points":0.00001}'),
        compact('{"rule":"a","dimension":"b","points":10000000000000000.0}'),
        compact('{"rule":"a","dimension":"b","points":10}'),
        compact('{"rule":"a","dimension":"b","points":1.50}'),
        compact('{"rule":"a","dimension":"b","points":0.00}'),
        compact('{"rule":":a","dimension":"b","points":1.0}'),
        compact('{"rule":"a,","dimension":"b","points":1.0}'),
        compact('{"rule":"a\\"b","dimension":"b","points":1.0}'),
        compact('{"rule":"\u00e9","dimension":"b","points":1.0}'),
        compact('{"dimension":"b","rule":"a","points":1.0}'),
        compact('{"rule":"a","dimension":"b","points":1.0,"events":null}'),
        json.dumps([{"rule": "a", "dimension": "b", "points": 1.0}]),
    ]
    for text in shaped + other:
        assert (_SHAPED.fullmatch(text) is not None) == (text in shaped), text
        assert breakdown_text(text) == json_text(breakdown_dicts(text)), text
    spaced = _spaced_in_duckdb(shaped + other)
    assert spaced == [breakdown_text(t) if t in shaped else None for t in shaped + other]


def _spaced_in_duckdb(texts: list[str]) -> list[str | None]:
    """`spaced_breakdown_sql` of each text, run by DuckDB (its RE2 and replaces), in one connection
    for the module (the property test asks for it hundreds of times)."""
    from leadscore.bulk.history_json import spaced_breakdown_sql

    rows = (
        _duckdb()
        .execute(
            f"SELECT {spaced_breakdown_sql('t.s')} FROM unnest(?) WITH ORDINALITY AS t(s, k) ORDER BY t.k", [texts]
        )
        .fetchall()
    )
    return [r[0] for r in rows]


@functools.cache
def _duckdb() -> duckdb.DuckDBPyConnection:
    import duckdb

    return duckdb.connect()


def test_breakdown_numbers_read_alike_by_python_and_duckdb() -> None:
    """The number form of `_SHAPED` (no lookahead, for RE2) as Python's `re` and DuckDB read it: every
    fraction below 1 up to four leading zeros and 17 digits, around the bounds of the plain notation."""
    from leadscore.bulk.history_json import _SHAPED

    numbers = [
        f"{s}{i}.{f}"
        for s in ("", "-")
        for i in ("0", "1", "01", "1" * 16, "1" * 17)
        for f in (
            "0",
            "00",
            "1",
            "10",
            "01",
            "001",
            "0001",
            "00001",
            "0" * 3 + "1" * 13,
            "0" * 3 + "1" * 14,
            "1" * 17,
            "1" * 18,
        )
    ]
    texts = [f'[{{"rule":"a","dimension":"b","points":{n}}}]' for n in numbers]
    python = [breakdown_text_if_shaped(t, _SHAPED) for t in texts]
    assert _spaced_in_duckdb(texts) == python
    assert any(p is not None for p in python) and any(p is None for p in python)


def breakdown_text_if_shaped(text: str, shaped: re.Pattern[str]) -> str | None:
    """`breakdown_text` where `shaped` matches the text, else None."""
    from leadscore.bulk.history_json import breakdown_text

    return breakdown_text(text) if shaped.fullmatch(text) is not None else None


@settings(max_examples=200, deadline=None)
@given(
    points=st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=6),
    names=st.lists(st.text(max_size=6), min_size=1, max_size=3),
    events=st.lists(st.one_of(st.none(), st.integers(0, 10**6)), min_size=1, max_size=6),
)
def test_breakdown_text_of_any_entries(points: list[float], names: list[str], events: list[int | None]) -> None:
    """Any names, points and counts in the query's compact form give the encoded entries' text, and
    DuckDB respaces exactly those Python respaces."""
    from leadscore.bulk.history_json import _SHAPED, breakdown_text

    entries = []
    for k, p in enumerate(points):
        entry: dict[str, object] = {"rule": names[k % len(names)], "dimension": names[-1], "points": p}
        if events[k % len(events)] is not None:
            entry["events"] = events[k % len(events)]
        entries.append(entry)
    for text in (
        json.dumps(entries, separators=(",", ":")),
        json.dumps(entries, separators=(",", ":"), ensure_ascii=False),
    ):
        assert breakdown_text(text) == json_text(breakdown_dicts(text))
        assert _spaced_in_duckdb([text]) == [breakdown_text_if_shaped(text, _SHAPED)]


@settings(max_examples=200, deadline=None)
@given(
    changes=st.lists(
        st.tuples(
            st.text(max_size=8),
            st.integers(-(2**62), 2**62),
            st.one_of(st.none(), st.text(max_size=8)),
            st.text(max_size=12),
            st.one_of(st.none(), st.text(max_size=12)),
        ),
        max_size=5,
    )
)
def test_history_text_is_the_encoded_entries(changes: list[tuple[str, int, str | None, str, str | None]]) -> None:
    """`history_text` writes what `json_text` writes of the entries' dicts, whatever the strings hold."""
    from leadscore.bulk.history_json import history_text
    from leadscore.domain.result import StageChange
    from leadscore.domain.timeutil import from_micros

    history = [StageChange(s, from_micros(0), p, c, e) for s, _, p, c, e in changes]
    times = [t for _, t, _, _, _ in changes]
    dicts = [{"stage": s, "at": t, "from": p, "cause": c, "event_id": e} for s, t, p, c, e in changes]
    assert history_text(history, times) == json_text(dicts)


@settings(max_examples=100, deadline=None)
@given(
    changes=st.lists(
        st.tuples(
            st.sampled_from(["lead", "mql", 'q"t', "\u00e9"]),
            st.integers(-(2**62), 2**62),
            st.one_of(st.none(), st.sampled_from(["lead", "mql", "x\\y"])),
            st.sampled_from(["initial", "auto", "event:demo"]),
            st.one_of(st.none(), st.text(max_size=6)),
        ),
        max_size=12,
    ),
    cuts=st.lists(st.integers(0, 12), max_size=4),
)
def test_history_texts_are_history_text_lead_by_lead(
    changes: list[tuple[str, int, str | None, str, str | None]], cuts: list[int]
) -> None:
    """`history_texts` of a part's changes cut into leads (some with none) is `json_text` of each
    lead's entries' dicts, the stages and causes a part shares encoded once."""
    from leadscore.bulk.history_json import history_texts
    from leadscore.domain.result import StageColumns

    first = [0, *sorted(min(c, len(changes)) for c in cuts), len(changes)]
    to, times, froms, causes, eids = (list(c) for c in zip(*changes, strict=True)) if changes else ([], [], [], [], [])
    columns = StageColumns(to, froms, causes, eids, times)
    got = history_texts(columns, first)
    for i in range(len(first) - 1):
        mine = changes[first[i] : first[i + 1]]
        assert got[i] == json_text(
            [{"stage": s, "at": t, "from": p, "cause": c, "event_id": e} for s, t, p, c, e in mine]
        )


_CHANGE_KEYS = frozenset({"kind", "from", "to", "at"})
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["stage_changed", "label_changed", "score_changed"]),
    trigger_id=st.text(min_size=1, max_size=6),
    destination=st.one_of(st.none(), st.text(max_size=6)),
    lead=st.text(max_size=6),
    old=_VALUES,
    new=_VALUES,
    # a firing's details never name the change's own keys (`firings.payload` would let them replace
    # those: "at" among them leaves one time in the text, no template fits): the firings' are fixed
    details=st.lists(st.tuples(st.text(max_size=5).filter(lambda k: k not in _CHANGE_KEYS), _VALUES), max_size=4),
    micros=st.integers(0, 2**41),
)
def test_payload_texts_of_any_values_are_the_payloads_json(
    kind: str,
    trigger_id: str,
    destination: str | None,
    lead: str,
    old: object,
    new: object,
    details: list[tuple[str, object]],
    micros: int,
) -> None:
    """The payload's template (`history_json._template`) filled with any values, any trigger id and
    destination (quotes, control characters, non-ASCII) gives `json_text` of `payload`'s dict."""
    from leadscore.domain.timeutil import from_micros
    from leadscore.model.spec import Trigger
    from leadscore.triggers.firings import Fired, payload

    spec: dict[str, object] = {"id": trigger_id, "on": "stage_changed", "destination": destination}
    trigger = Trigger.model_construct(**spec)  # (any text: the template must not depend on it)
    found = [Fired(trigger, kind, from_micros(micros), old, new, "k", dict(details))]  # type: ignore[arg-type]
    result = {"lead_id": lead, "breakdown": []}
    texts = payload_texts(found, lead, json_text(result))
    assert texts == [json_text(payload(f, lead, result)) for f in found]


_NAMES = st.text(max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    lead=_NAMES,
    model=_NAMES,
    score=st.floats(allow_nan=True, allow_infinity=True),
    dimensions=st.dictionaries(_NAMES, st.floats(-1e6, 1e6), max_size=3),
    labels=st.dictionaries(_NAMES, st.one_of(st.none(), _NAMES), max_size=3),
    stage=st.one_of(st.none(), _NAMES),
    playbook=st.one_of(st.none(), st.tuples(_NAMES, st.one_of(st.none(), st.integers(0, 9)), st.lists(_NAMES))),
    micros=st.integers(0, 2**41),
)
def test_result_text_is_the_results_json(
    lead: str,
    model: str,
    score: float,
    dimensions: dict[str, float],
    labels: dict[str, str | None],
    stage: str | None,
    playbook: tuple[str, int | None, list[str]] | None,
    micros: int,
) -> None:
    """`result_text`, its head encoded value by value and the playbook's text kept per part, is
    `json_text` of the result's dict with its breakdown, for any texts and numbers."""
    from leadscore.bulk.history_json import AtText, result_text
    from leadscore.domain.result import PlaybookMatch, Result
    from leadscore.domain.timeutil import from_micros

    match = PlaybookMatch(0, playbook[0], playbook[1], tuple(playbook[2]), "p") if playbook is not None else None
    at = from_micros(micros)
    result = Result(lead, at, model, "v1", score, dimensions, labels, stage, (), match)
    breakdown = '[{"rule":"a","dimension":"d","points":1.5}]'
    texts = AtText()
    for _ in range(2):  # the second time with the time's and the playbook's texts kept
        got = result_text(result, breakdown, texts)
        assert got == json_text({**result.to_dict(), "breakdown": breakdown_dicts(breakdown)})


def test_payload_texts_of_a_trigger_whose_text_holds_a_marker() -> None:
    """A destination (any text) that holds the markers' or the marker time's text: other markers are
    tried, the payload's text is still `json_text` of its dict."""
    from leadscore.domain.timeutil import from_micros
    from leadscore.model.spec import Trigger
    from leadscore.triggers.firings import Fired, payload

    for destination in ("\x001:1\x00", "1111-11-11T11:11:11.000001Z", "\x001:4\x00 \x002:4\x00"):
        trigger = Trigger.model_validate({"id": "t", "on": "stage_changed", "destination": destination})
        found = [Fired(trigger, "stage_changed", from_micros(5), "a", "b", "k", {"cause": "auto", "entry": 1})]
        result = {"lead_id": "l1"}
        assert payload_texts(found, "l1", json_text(result)) == [json_text(payload(found[0], "l1", result))]


@settings(max_examples=150, deadline=None)
@given(
    firings=st.lists(
        st.tuples(
            st.integers(0, 2),  # the lead
            st.sampled_from(["stage_changed", "label_changed", "score_changed"]),
            st.sampled_from(["t1", "t2"]),
            st.one_of(st.none(), st.sampled_from(["crm", '"q"'])),
            _VALUES,
            _VALUES,
            st.lists(st.tuples(st.sampled_from(["cause", "entry", "set"]), _VALUES), max_size=3),
            st.one_of(st.just(0), st.integers(0, 2**41)),
        ),
        max_size=12,
    )
)
def test_payload_batch_is_payload_texts_lead_by_lead(
    firings: list[tuple[int, str, str, str | None, object, object, list[tuple[str, object]], int]],
) -> None:
    """`payload_batch` of several leads' firings (templates shared or not, values of any type, times
    known to `at_text` or not) gives the texts `payload_texts` gives lead by lead, in order."""
    from leadscore.bulk.history_json import AtText, payload_batch
    from leadscore.domain.timeutil import from_micros
    from leadscore.model.spec import Trigger
    from leadscore.triggers.firings import Fired

    at_text = AtText()
    _ = at_text[from_micros(0)]  # the evaluation time's text is known
    found, leads, results = [], [], []
    for lead, kind, trigger_id, destination, old, new, details, micros in sorted(firings, key=lambda f: f[0]):
        spec: dict[str, object] = {"id": trigger_id, "on": "stage_changed", "destination": destination}
        trigger = Trigger.model_construct(**spec)
        found.append(Fired(trigger, kind, from_micros(micros), old, new, "k", dict(details)))  # type: ignore[arg-type]
        leads.append(f"l{lead}")
        results.append(json_text({"lead_id": f"l{lead}", "n": lead}))
    expected: list[str] = []
    for k, f in enumerate(found):
        expected += payload_texts([f], leads[k], results[k], at_text)
    assert payload_batch(found, leads, results, at_text) == expected


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            _NAMES,
            st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 5),
            st.dictionaries(_NAMES, st.floats(-1e6, 1e6), max_size=2),
            st.dictionaries(_NAMES, st.one_of(st.none(), _NAMES), max_size=2),
            st.one_of(st.none(), _NAMES),
            st.one_of(
                st.none(),
                st.sampled_from(['{"index": 1, "action": "a", "priority": 2, "content": ["x"], "name": "p"}']),
            ),
            st.booleans(),
            st.sampled_from([0, 86_400_000_000]),
        ),
        max_size=6,
    ),
    pick=st.lists(st.integers(0, 5), max_size=6, unique=True),
)
def test_result_texts_are_result_text_of_each_row(
    rows: list[tuple[str, float, dict[str, float], dict[str, str | None], str | None, str | None, bool, int]],
    pick: list[int],
) -> None:
    """`result_texts` of some rows of a part's columns (texts shared or not, scores of any kind, the
    breakdown respaced or not) is `result_text_of` of each of them, its values made from the row."""
    from leadscore.bulk.history_json import AtText, breakdown_text, result_text_of, result_texts
    from leadscore.domain.result import PlaybookMatch
    from leadscore.domain.timeutil import from_micros

    breakdown = '[{"rule":"a","dimension":"d","points":1.5}]'
    cols: dict[str, list[object]] = {
        "lead_id": [r[0] for r in rows],
        "model": ["m"] * len(rows),
        "model_version": ["v1"] * len(rows),
        "score": [r[1] for r in rows],
        "dimensions": [json.dumps(r[2], separators=(",", ":")) for r in rows],
        "labels": [json.dumps(r[3]) for r in rows],
        "stage": [r[4] for r in rows],
        "playbook": [r[5] for r in rows],
        "breakdown": [breakdown] * len(rows),
        "evaluated_at": [r[7] for r in rows],
    }
    spaced = [breakdown_text(breakdown) if r[6] else None for r in rows]

    def playbook_of(text: str | None) -> PlaybookMatch | None:
        if text is None:
            return None
        d = json.loads(text)
        return PlaybookMatch(d["index"], d["action"], d["priority"], tuple(d["content"]), d["name"])

    chosen = [i for i in pick if i < len(rows)]
    got = result_texts(chosen, cols, spaced, playbook_of, from_micros, AtText())
    at_text = AtText()
    expected = [
        result_text_of(
            (rows[i][0], "m", "v1", rows[i][1], rows[i][4]),  # type: ignore[arg-type]
            from_micros(rows[i][7]),
            json_text(rows[i][2]),
            json_text(rows[i][3]),
            playbook_of(rows[i][5]),
            breakdown,
            at_text,
            spaced[i],
        )
        for i in chosen
    ]
    assert got == expected
