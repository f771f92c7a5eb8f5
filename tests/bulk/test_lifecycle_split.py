"""`lifecycle_split.part_bounds`: a part's stored results read as a range of the primary key, the same
rows its leads' query selects (PostgreSQL's `load_previous`)."""

from __future__ import annotations

import pytest

from leadscore.bulk.lifecycle_parts import bounds, part_queries
from leadscore.bulk.lifecycle_split import part_bounds
from leadscore.store import LeadStore
from leadscore.store.tables import leads, results
from tests.bulk.test_lifecycle_parts import IDS


def _ids(store: LeadStore, sql: str) -> list[str]:
    with store.read() as conn:
        return sorted(str(r[0]) for r in conn.exec_driver_sql(sql))


def _result(lead: str) -> dict[str, object]:
    return {
        "lead_id": lead,
        "model": "m",
        "model_version": "v",
        "evaluated_at": 0,
        "score": 0.0,
        "dimensions": {},
        "labels": {},
        "stage_history": [],
        "queue_rank": 0,
        "breakdown": [],
    }


@pytest.mark.parametrize("size", [1, 2, 5, 13])
def test_each_parts_range_reads_the_results_of_the_leads_its_query_selects(store: LeadStore, size: int) -> None:
    """Quotes, case, accents, digits, in the store's collation: the range of a part's bounds holds the
    results of that part's leads; a result of a lead no longer in `leads` may come with them (PREV is
    joined to the part's leads only)."""
    with store.write() as conn:
        conn.execute(leads.insert(), [{"id": i, "attributes": {}, "created_at": 0, "updated_at": 0} for i in IDS])
        conn.execute(results.insert(), [_result(i) for i in [*IDS, "gone"]])
    for part in part_queries(bounds(store, None, size), None):
        where = part_bounds(part)
        assert where is not None
        got = _ids(store, f"SELECT lead_id FROM results WHERE {where}")
        expected = _ids(store, f"SELECT lead_id FROM results WHERE lead_id IN ({part})")
        assert [i for i in got if i != "gone"] == expected


def test_a_query_that_is_not_a_parts_range_has_no_bounds() -> None:
    starts = ["a", "b'c", "d"]
    assert [part_bounds(p) for p in part_queries(starts, None)] == [
        "lead_id < 'b''c'",
        "lead_id >= 'b''c' AND lead_id < 'd'",
        "lead_id >= 'd'",
    ]
    for other in [
        *part_queries(starts, "SELECT id FROM leads WHERE id <> 'b'"),  # a subset: its own filter
        "SELECT id FROM leads",
        "SELECT id FROM leads WHERE id >= 'a' OR 1 = 1",
        "SELECT id FROM leads WHERE id >= 'a' AND id < 'b' OR 1 = 1",
        "SELECT lead_id FROM results WHERE lead_id < 'a'",
    ]:
        assert part_bounds(other) is None
    # a quote inside an id stays inside its literal
    assert part_bounds("SELECT id FROM leads WHERE id < 'a'' OR ''1'' = ''1'") == "lead_id < 'a'' OR ''1'' = ''1'"
