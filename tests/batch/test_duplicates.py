"""The duplicate check: repeated ids within a lead are found exactly, ids shared by leads are not duplicates."""

from __future__ import annotations

from datetime import timedelta

from leadscore.batch import run_batch
from leadscore.batch.duckdb.duplicates import find_duplicates
from leadscore.batch.duckdb.run import connect
from leadscore.batch.duckdb.sources import prepare
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import parse_timestamp
from leadscore.engine import score_many
from leadscore.model import parse_model
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table

AT = parse_timestamp("2026-06-01T00:00:00Z")
MODEL = parse_model("format: 1\nname: t\nrules:\n  - {id: v, on: view, where: {page: pricing}, points: 1}\n")


def _events(n_leads: int, repeat: dict[str, list[str]] | None = None) -> list[Event]:
    """Each lead views pages with ids shared across leads (`e0`, `e1`, ...); `repeat` adds later copies."""
    events = []
    for i in range(n_leads):
        for k in range(3):
            page = "pricing" if k != 1 else "home"
            events.append(Event.of(f"l{i}", "view", AT - timedelta(hours=k + 1), id=f"e{k}", page=page))
    for lead, ids in (repeat or {}).items():
        for event_id in ids:
            events.append(Event.of(lead, "view", AT - timedelta(minutes=1), id=event_id, page="pricing"))
    return events


def _run(events: list[Event], n_leads: int) -> tuple[bool, list[dict]]:
    leads = [Lead(f"l{i}") for i in range(n_leads)]
    run = run_batch(MODEL, leads_table(leads), events_table(events), AT)
    expected = [r.to_dict() for r in score_many(MODEL, leads, events, AT)]
    got = run.to_dicts()
    assert not differences(expected, got), differences(expected, got)
    return run.stats.deduplicated, got


def test_ids_shared_by_different_leads_are_not_duplicates() -> None:
    deduplicated, got = _run(_events(300), 300)
    assert not deduplicated
    assert {r["score"] for r in got} == {2.0}


def test_repeated_ids_within_a_lead_count_once_in_input_order() -> None:
    # l7's copy of e1 (a home page view) is seen second: the first copy wins, the later pricing copy is dropped
    events = _events(300, {"l7": ["e1", "e0"], "l8": ["e9"]})
    deduplicated, got = _run(events, 300)
    scores = {r["lead_id"]: r["score"] for r in got}
    assert deduplicated
    assert scores["l7"] == 2.0 and scores["l8"] == 3.0 and scores["l0"] == 2.0


def test_check_lists_the_repeated_pairs_and_the_copy_to_keep() -> None:
    events = _events(50, {"l3": ["e2", "e2"]})
    events.append(Event.of("l4", "view", AT, page="pricing"))  # no id: identified by content
    con = connect()
    prepare(con, leads_table([Lead("l0")]), events_table(events))
    check = find_duplicates(con)
    rows = con.execute(f"SELECT lead_id, id, keep FROM {check.table}").fetchall()
    first = next(i for i, e in enumerate(events) if e.lead_id == "l3" and e.id == "e2")
    assert rows == [("l3", "e2", first)]
    assert check.repeated_ids == 1 and check.without_id == 1 and check.needed
    dropped = sorted(r[0] for r in con.execute(f"SELECT _ls_ord FROM {check.table}_drop").fetchall())
    assert dropped == [i for i, e in enumerate(events) if e.lead_id == "l3" and e.id == "e2" and i != first]
