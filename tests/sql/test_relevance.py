"""Which events a model can read at all (what the in-database path leaves unparsed)."""

from __future__ import annotations

from leadscore.batch import run_batch
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import from_micros, parse_timestamp, to_micros
from leadscore.engine import score_many
from leadscore.model import parse_model
from leadscore.sql.relevance import horizons
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table

AT = "2026-06-01T00:00:00Z"
DAY = 86_400_000_000
MODEL = """
format: 1
name: relevance
rules:
  - {id: visit, on: page_view, within: 30d, points: 1}
  - {id: ebook, on: ebook, within: 90d, decay: {half_life: 30d}, points: 10}
  - {id: subscribed, on: subscribe, once: true, points: 5}
labels:
  activity:
    - {label: recent, when: {count: page_view, within: 60d, gte: 1}}
    - {label: seen, when: {last: click, older_than: 1d}}
    - {label: none}
"""


def test_each_type_is_read_through_its_longest_window() -> None:
    found = horizons(parse_model(MODEL))
    assert found == {"page_view": 60 * 86_400, "ebook": 90 * 86_400, "subscribe": None, "click": None}
    lifecycle = MODEL + "lifecycle:\n  stages: [lead, sql]\n  transitions:\n    - {to: sql, on: accepted}\n"
    assert horizons(parse_model(lifecycle)) is None  # the replay reads every event


def test_only_readable_events_are_kept_and_they_give_the_same_results() -> None:
    import duckdb

    from leadscore.sql.relevance import relevant_sql

    model = parse_model(MODEL)
    at = to_micros(parse_timestamp(AT))

    def ev(lead: str, kind: str, days: float, n: int) -> Event:
        return Event(lead, kind, from_micros(at - int(days * DAY)), {}, f"e{n}")

    events = [
        ev("a", "page_view", 10, 1),
        ev("a", "page_view", 45, 2),  # outside the rule's 30 days, inside the label's 60
        ev("a", "page_view", 400, 3),  # read by nothing
        ev("a", "subscribe", 900, 4),  # read without a window
        ev("b", "webinar", 5, 5),  # a type no rule names: b is known only from it
        ev("c", "click", 700, 6),  # `last:` reads the latest click however old
        ev("c", "ebook", 89, 7),
        ev("c", "ebook", 91, 8),
    ]
    leads = [Lead("a", {}), Lead("d", {})]
    run = run_batch(model, leads_table(leads), events_table(events), AT)
    everyone = [*leads, Lead("b"), Lead("c")]
    expected = [r.to_dict() for r in score_many(model, everyone, events, AT)]
    assert not differences(expected, run.to_dicts())
    assert run.stats.events == len(events)  # every event up to T is counted, read or not
    labels = {r["lead_id"]: r["labels"]["activity"] for r in run.to_dicts()}
    assert labels == {"a": "recent", "b": "none", "c": "seen", "d": "none"}

    found = horizons(model)
    assert found is not None
    con = duckdb.connect()
    con.register("ev", events_table(events))
    keep = relevant_sql(found, "epoch_us(timestamp)", at)
    kept = sorted(r[0] for r in con.execute(f"SELECT id FROM ev WHERE {keep}").fetchall())
    assert kept == ["e1", "e2", "e4", "e6", "e7"]
    readable = [e for e in events if e.id in kept]
    again = [r.to_dict() for r in score_many(model, everyone, readable, AT)]
    assert not differences(expected, again)  # dropping the rest changes no result
