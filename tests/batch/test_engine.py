"""Explicit cases: window edges, ties, duplicates, fallback, bad data, inputs and outputs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from leadscore.batch import run_batch
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import parse_timestamp
from leadscore.engine import ScoringDataError, score_many
from leadscore.model import parse_model
from leadscore.model.spec import ScoringModel
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table

AT = parse_timestamp("2026-06-01T00:00:00Z")
US = timedelta(microseconds=1)


def _model(rules: str, extra: str = "") -> ScoringModel:
    return parse_model(f"format: 1\nname: t\nrules:\n{rules}\n{extra}")


def _same(model: object, leads: list[Lead], events: list[Event]) -> list[dict]:
    run = run_batch(model, leads_table(leads), events_table(events), AT)  # type: ignore[arg-type]
    got = run.to_dicts()
    known = {lead.id for lead in leads}
    everyone = [*leads, *(Lead(i) for i in sorted({e.lead_id for e in events} - known))]
    expected = [r.to_dict() for r in score_many(model, everyone, events, AT)]  # type: ignore[arg-type]
    assert not differences(expected, got), differences(expected, got)
    return got


def test_window_edges_are_exclusive_below_and_inclusive_at_t() -> None:
    model = _model("  - {id: w, on: v, within: 1d, points: 1}")
    d = timedelta(days=1)
    events = [
        Event("a", "v", AT - d, id="edge"),
        Event("a", "v", AT - d + US, id="in"),
        Event("a", "v", AT, id="at"),
        Event("a", "v", AT + US, id="after"),
    ]
    (result,) = _same(model, [Lead("a")], events)
    assert result["breakdown"] == [{"rule": "w", "dimension": "score", "points": 2.0, "events": 2}]


def test_stage_ties_follow_input_order() -> None:
    model = _model(
        "  - {id: r, on: v, points: 1}",
        "lifecycle:\n  stages: [lead, sql, customer]\n  transitions:\n"
        "    - {to: sql, on: accepted}\n    - {to: customer, on: won, from: [sql]}",
    )
    events = [
        Event.of("a", "accepted", AT, id="1"),
        Event.of("a", "won", AT, id="2"),
        Event.of("b", "won", AT, id="3"),
        Event.of("b", "accepted", AT, id="4"),
    ]
    got = {r["lead_id"]: r["stage"] for r in _same(model, [Lead("a"), Lead("b")], events)}
    assert got == {"a": "customer", "b": "sql"}


def test_repeated_ids_keep_the_first_seen_even_after_t() -> None:
    model = _model("  - {id: shoes, on: buy, where: {category: shoes}, points: 10}")
    events = [
        Event.of("a", "buy", AT - 2 * US, id="x", category="bags"),
        Event.of("a", "buy", AT - US, id="x", category="shoes"),
        Event.of("a", "buy", AT + US, id="y", category="shoes"),
        Event.of("a", "buy", AT - US, id="y", category="shoes"),
        Event.of("a", "buy", AT - US, category="shoes"),
        Event.of("a", "buy", AT - US, category="shoes"),
    ]
    (result,) = _same(model, [Lead("a")], events)
    assert result["score"] == 10.0  # only the exact copies without id, counted once


@pytest.mark.parametrize("sql_replay", [True, False])
def test_time_dependent_lifecycle_is_replayed_and_still_agrees(sql_replay: bool) -> None:
    model = _model(
        "  - {id: r, on: v, within: 1d, points: 50}",
        "lifecycle:\n  stages: [lead, mql]\n  transitions:\n    - {to: mql, when: {score: total, gte: 100}}",
    )
    events = [Event.of("a", "v", AT - timedelta(days=5), id="1"), Event.of("a", "v", AT - timedelta(days=5), id="2")]
    run = run_batch(model, leads_table([Lead("a"), Lead("b")]), events_table(events), AT, sql_replay=sql_replay)
    # b has no events: decided at T by the main query; a needs the score at its events' time
    assert (run.stats.replayed_leads, run.stats.fallback_leads) == ((1, 0) if sql_replay else (0, 1))
    by = {r["lead_id"]: r for r in run.to_dicts()}
    assert by["a"]["stage"] == "mql" and by["a"]["score"] == 0.0  # promoted when the score was 100
    assert by["b"]["stage"] == "lead"


def test_columns_layout_holds_the_pure_scorers_rows_as_the_querys(tmp_path: Path) -> None:
    """Lead a goes to the pure scorer (its stage needs the replay), b is the query's: in the columns
    layout both rows read back as the results, a rule without points has no event count, and a cap
    is its adjustment."""
    import pyarrow.parquet as pq

    from leadscore.sql.result_columns import result_dict

    model = _model(
        "  - {id: r, dimension: score, on: v, within: 1d, points: 50}\n"
        "  - {id: old, dimension: score, on: v, points: 70}\n"
        "  - {id: vip, dimension: score, when: {attribute: tier, eq: 1}, points: 150}",
        "dimensions:\n  score: {cap: 100}\n"
        "lifecycle:\n  stages: [lead, mql]\n  transitions:\n    - {to: mql, when: {score: total, gte: 100}}",
    )
    events = [Event.of("a", "v", AT - timedelta(days=5), id="1")]
    leads = leads_table([Lead("a"), Lead.of("b", tier=1)])
    run = run_batch(model, leads, events_table(events), AT, sql_replay=False)
    assert run.stats.fallback_leads == 1
    run.write(tmp_path / "out.parquet", "columns")
    rows = {r["lead_id"]: r for r in pq.read_table(tmp_path / "out.parquet").to_pylist()}
    assert rows["a"]["points"] == {"r": 0.0, "old": 70.0, "vip": 0.0}
    assert rows["a"]["events"] == {"r": None, "old": 1}
    assert rows["b"]["points"] == {"r": 0.0, "old": 0.0, "vip": 150.0} and rows["b"]["adjustments"] == {"score": -50.0}
    assert not differences(run.to_dicts(), [result_dict(model, r) for r in rows.values()])


def test_replay_sees_every_event_at_the_same_instant_and_moves_back_later() -> None:
    """Two events at one instant count together; a recycled lead returns to `lead` once its score fades,
    then a later burst makes it an MQL again; the stage at T follows the score at each event's time."""
    model = _model(
        "  - {id: r, on: v, within: 1d, points: 50}\n  - {id: s, on: x, points: 1}",
        "lifecycle:\n  stages: [lead, mql, sql]\n  exits: [recycled]\n  transitions:\n"
        "    - {to: mql, when: {score: total, gte: 100}}\n    - {to: recycled, on: no}\n"
        "    - {to: lead, from: [recycled], when: {score: total, lt: 50}}",
    )
    d, h = timedelta(days=1), timedelta(hours=1)
    events = [
        Event.of("a", "v", AT - 10 * d, id="1"),
        Event.of("a", "v", AT - 10 * d, id="2"),  # same instant: 100 at AT - 10d
        Event.of("a", "no", AT - 9 * d, id="3"),  # recycled; the window has passed: back to lead
        Event.of("a", "x", AT - 8 * d, id="4"),
        Event.of("b", "v", AT - 3 * d, id="5"),
        Event.of("b", "x", AT - 3 * d + US, id="6"),  # 51 only: never an MQL
        Event.of("c", "v", AT - h, id="7"),  # mql at once
        Event.of("c", "no", AT - h, id="8"),  # recycled; still 100 at that instant and at T: stays there
        Event.of("c", "v", AT - 2 * h, id="9"),
    ]
    got = {r["lead_id"]: r["stage"] for r in _same(model, [Lead("a"), Lead("b"), Lead("c")], events)}
    assert got == {"a": "lead", "b": "lead", "c": "recycled"}


def test_rre2_regex_runs_in_duckdb_and_table_dependent_ones_take_the_look_up() -> None:
    # `\d`, `(?i)`, `\b` mean the same in DuckDB's RE2 and the pure scorer's: no value goes to Python;
    # `\pL` rests on a build's Unicode tables and `(?<n>...)` is syntax DuckDB's older RE2 refuses:
    # those are evaluated by the pure scorer's predicate over each distinct value
    rules = [
        r"  - {id: r, on: v, where: {path: {matches: '(?i)\bP\d+'}}, points: 1}",
        r"  - {id: letters, on: v, where: {path: {matches: '^\pL+$'}}, points: 2}",
        r"  - {id: named, on: v, where: {path: {matches: '(?<n>é)'}}, points: 4}",
    ]
    paths = ["p12", "x p3", "p", "é", "K", "ǅé"]
    events = [Event.of(f"L{i}", "v", AT, id=str(i), path=p) for i, p in enumerate(paths)]
    leads = [Lead(f"L{i}") for i in range(len(paths))]
    run = run_batch(_model(rules[0]), leads_table(leads), events_table(events), AT)
    assert run.stats.lookup_values == 0 and run.stats.fallback_leads == 0
    _same(_model(rules[0]), leads, events)
    model = _model("\n".join(rules))
    _same(model, leads, events)
    run = run_batch(model, leads_table(leads), events_table(events), AT)
    assert run.stats.fallback_leads == 0 and run.stats.fallback_reason is None
    assert run.stats.lookup_values == 2 * len(paths)  # each distinct path once per look-up


def test_contains_on_values_whose_lower_case_differs_between_engines_rescores_those_leads() -> None:
    # Python lowers "İ" to "i" + combining dot and a final capital sigma to "ς"; DuckDB to "i" and "σ".
    # The query runs without look-up first and scores again the leads that hold such a value.
    model = _model(
        "  - {id: ist, on: v, where: {city: {contains: istanbul}}, points: 1}\n"
        "  - {id: sigma, on: v, where: {city: {contains: 'σ'}}, points: 2}\n"
        "  - {id: plain, on: v, where: {city: {contains: 'KÖLN'}}, points: 4}"
    )
    cities = ["İstanbul", "istanbul", "ΟΔΟΣ", "ΟΔΟΣΑ", "Köln", "KÖLN-Süd", None]
    events = [Event.of(f"L{i}", "v", AT, id=str(i), city=c) for i, c in enumerate(cities)]
    leads = [Lead(f"L{i}") for i in range(len(cities))]
    got = {r["lead_id"]: r["score"] for r in _same(model, leads, events)}
    assert got == {"L0": 0.0, "L1": 1.0, "L2": 0.0, "L3": 2.0, "L4": 4.0, "L5": 4.0, "L6": 0.0}
    run = run_batch(model, leads_table(leads), events_table(events), AT)
    # the values with İ or Σ for `σ` (3), with İ for `istanbul` (1), none for `KÖLN` (no "i", no sigma)...
    assert run.stats.lookup_values == 3 + 1
    plain = [e for e in events if e.lead_id not in ("L0", "L2", "L3")]
    run = run_batch(model, leads_table(leads), events_table(plain), AT)
    assert run.stats.lookup_values == 0 and "lookups" not in run.stats.seconds  # ...and none without them


SENIORITY = r"(?i)\b(chief|c[eomt]o|vp|vice president|head of|director)\b"


def test_seniority_regex_and_case_folding_of_non_ascii_text_match_the_pure_scorer() -> None:
    model = _model(
        f"  - {{id: senior, when: {{attribute: title, matches: '{SENIORITY}'}}, points: 10}}\n"
        "  - {id: munich, when: {attribute: city, contains: 'MÜNCHEN'}, points: 3}\n"
        "  - {id: kelvin, when: {attribute: city, contains: 'k'}, points: 1}\n"
        "  - {id: strasse, on: v, where: {street: {contains: 'straße'}}, points: 2}\n"
        "  - {id: digits, on: v, where: {street: {matches: '^\\w+ \\d+$'}}, points: 5}"
    )
    titles = ["Chief Revenue Officer", "CTO", "cto of things", "Director", "directorate", "VP Sales", "Head Of IT",
              "İnşaat Müdürü", "vice  president", "HEAD OF", "Ceo", None]
    cities = ["München", "MÜNCHEN", "münchen-süd", "\u212aöln", "Kiel", "İstanbul", "Straßburg", None]
    streets = ["Hauptstraße 1", "HAUPTSTRASSE 1", "Königsallee 12", "Main St 3\n", "ΣΤΡΑΣΣΕ 5", "strasse"]
    leads = [
        Lead(f"L{i}", {k: v for k, v in (("title", titles[i % len(titles)]), ("city", cities[i % len(cities)])) if v})
        for i in range(24)
    ]
    events = [Event.of(f"L{i % 24}", "v", AT, id=f"e{i}", street=streets[i % len(streets)]) for i in range(40)]
    _same(model, leads, events)
    run = run_batch(model, leads_table(leads), events_table(events), AT)
    assert run.stats.fallback_leads == 0


def test_bad_stage_attribute_is_refused_like_the_pure_scorer() -> None:
    model = _model("  - {id: r, on: v, points: 1}", "lifecycle:\n  stages: [lead, mql]")
    with pytest.raises(ScoringDataError, match="names no stage"):
        run_batch(model, leads_table([Lead.of("a", stage="nope")]), events_table([]), AT)


def test_csv_inputs_are_typed_like_the_io_reader(tmp_path: Path) -> None:
    from leadscore.io import read_events, read_leads

    (tmp_path / "leads.csv").write_text("id,zip,employees,plan\na,007,150,true\nb,1e999,12.5,\n")
    (tmp_path / "events.csv").write_text(
        "id,lead_id,type,timestamp,amount\n1,a,buy,2026-05-01T00:00:00Z,300\n2,a,buy,2026-05-02,abc\n"
        "3,b,buy,2026-05-03T10:00:00+02:00, 20 \n"
    )
    model = _model(
        "  - {id: zip, when: {attribute: zip, eq: '007'}, points: 1}\n"
        "  - {id: plan, when: {attribute: plan, eq: 'true'}, points: 2}\n"
        "  - {id: big, when: {attribute: employees, gte: 100}, points: 4}\n"
        "  - {id: spend, when: {sum: amount, of: buy, gte: 20}, points: 8}\n"
        "  - {id: text, on: buy, where: {amount: abc}, points: 16}"
    )
    leads, events = read_leads(tmp_path / "leads.csv"), read_events(tmp_path / "events.csv")
    expected = [r.to_dict() for r in score_many(model, leads, events, AT)]
    got = run_batch(model, tmp_path / "leads.csv", tmp_path / "events.csv", AT).to_dicts()
    assert not differences(expected, got)
    assert {r["lead_id"]: r["score"] for r in got} == {"a": 31.0, "b": 8.0}


def test_outputs_by_extension(tmp_path: Path) -> None:
    import json

    import pyarrow.parquet as pq

    model = _model("  - {id: r, on: v, points: 1}\n  - {id: c, when: {attribute: x, eq: 1}, points: 2}")
    run = run_batch(model, leads_table([Lead.of("a", x=1)]), events_table([Event.of("a", "v", AT, id="1")]), AT)
    run.write(tmp_path / "out.jsonl")
    run.write(tmp_path / "out.parquet")
    line = json.loads((tmp_path / "out.jsonl").read_text())
    assert line["breakdown"] == [
        {"rule": "r", "dimension": "score", "points": 1.0, "events": 1},
        {"rule": "c", "dimension": "score", "points": 2.0},
    ]
    row = pq.read_table(tmp_path / "out.parquet").to_pylist()[0]
    # the default Parquet layout: the scores without the breakdown; one column per rule (and
    # dimension), or the list, on request
    assert row["score"] == 3.0 and row["dimensions"] == {"score": 3.0}
    assert not {"breakdown", "points", "events", "adjustments"} & set(row)
    run.write(tmp_path / "columns.parquet", "columns")
    row = pq.read_table(tmp_path / "columns.parquet").to_pylist()[0]
    assert (row["points"], row["events"], row["adjustments"]) == ({"r": 1.0, "c": 2.0}, {"r": 1}, {"score": 0.0})
    assert "breakdown" not in row
    run.write(tmp_path / "list.parquet", "list")
    listed = pq.read_table(tmp_path / "list.parquet").to_pylist()[0]["breakdown"]
    assert listed == [
        {"rule": "r", "dimension": "score", "points": 1.0, "events": 1},
        {"rule": "c", "dimension": "score", "points": 2.0, "events": None},
    ]
    with pytest.raises(ValueError, match="unsupported output format"):
        run.write(tmp_path / "out.txt")


def test_a_run_that_writes_no_breakdown_computes_none_and_says_so(tmp_path: Path) -> None:
    """`run_batch` to Parquet in the default layout keeps no rule's points (`BatchRun(breakdown=False)`):
    its query has no per-rule column, and asking it for the breakdown is a clear error."""
    import pyarrow.parquet as pq

    model = _model("  - {id: r, on: v, points: 1}\n  - {id: c, when: {attribute: x, eq: 1}, points: 2}")
    leads, events = leads_table([Lead.of("a", x=1)]), events_table([Event.of("a", "v", AT, id="1")])
    run = run_batch(model, leads, events, AT, out=tmp_path / "out.parquet")
    assert not run.breakdown and run.plan is not None and "points_0" not in run.plan.sql
    assert pq.read_table(tmp_path / "out.parquet").to_pylist()[0]["score"] == 3.0
    with pytest.raises(ValueError, match="no per-rule breakdown"):
        run.to_dicts()
    with pytest.raises(ValueError, match="no per-rule breakdown"):
        run.write(tmp_path / "columns.parquet", "columns")
    assert run_batch(model, leads, events, AT, out=tmp_path / "c.parquet", breakdown="columns").breakdown


def test_regex_end_anchor_means_the_end_of_the_text_in_both_engines() -> None:
    # `matches` has RE2 semantics: `$` does not match before a final newline (Python's `re` did)
    model = _model("  - {id: r, on: v, where: {path: {matches: 'c$'}}, points: 1}")
    events = [Event.of("a", "v", AT, id="1", path="abc"), Event.of("b", "v", AT, id="2", path="abc\n")]
    got = {r["lead_id"]: r["score"] for r in _same(model, [Lead("a"), Lead("b")], events)}
    assert got == {"a": 1, "b": 0}


def test_a_once_rule_with_decay_decays_from_its_latest_event_with_and_without_the_breakdown(tmp_path: Path) -> None:
    """A `once` rule with decay gives its points when its latest matching event exists (no count needed
    without the breakdown): 20 points halved every 10 days, from the latest event up to T; an event after T
    gives nothing, by hand."""
    import pyarrow.parquet as pq

    model = _model("  - {id: m, on: meeting, once: true, decay: {half_life: 10d}, points: 20}")
    d = timedelta(days=10)
    events = [
        Event("a", "meeting", AT - 2 * d, id="1"),
        Event("a", "meeting", AT - d, id="2"),
        Event("a", "meeting", AT + US, id="3"),
        Event("b", "meeting", AT + US, id="4"),
        Event("c", "visit", AT - d, id="5"),
    ]
    got = {r["lead_id"]: r for r in _same(model, [Lead("a"), Lead("b"), Lead("c")], events)}
    assert got["a"]["score"] == 10.0
    assert got["a"]["breakdown"] == [{"rule": "m", "dimension": "score", "points": 10.0, "events": 2}]
    assert got["b"]["score"] == got["c"]["score"] == 0.0
    leads, table = leads_table([Lead("a"), Lead("b"), Lead("c")]), events_table(events)
    run_batch(model, leads, table, AT, out=tmp_path / "out.parquet")
    scores = {r["lead_id"]: r["score"] for r in pq.read_table(tmp_path / "out.parquet").to_pylist()}
    assert scores == {"a": 10.0, "b": 0.0, "c": 0.0}
