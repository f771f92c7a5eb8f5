"""Many rows in one INSERT on PostgreSQL from one JSON array (leadscore.store.recordset); the rows
they store are checked against SQLAlchemy's in tests/store/test_results_repo.py."""

from __future__ import annotations

import json
import math

from leadscore.store.recordset import recordset_param


def test_many_rows_are_one_json_array_unless_it_cannot_say_what_the_executemany_does() -> None:
    """`recordset_param`: the rows as one JSON text for PostgreSQL's one statement; None (the
    executemany) for a NaN or an infinity, a value JSON does not encode, or an upsert naming a lead twice."""
    names = ["lead_id", "score", "dimensions"]
    rows = [
        {"lead_id": "a", "score": 1.5, "dimensions": {"x": None}},
        {"score": -0.0, "lead_id": "b", "dimensions": {}},
    ]
    assert json.loads(recordset_param(rows, names, True) or "") == rows
    assert recordset_param([*rows, {**rows[0], "score": math.inf}], names, False) is None
    assert recordset_param([*rows, {**rows[0], "dimensions": {"x": math.nan}}], names, False) is None
    assert recordset_param([*rows, {**rows[0], "dimensions": {1, 2}}], names, False) is None
    assert recordset_param([*rows, rows[0]], names, True) is None
    assert recordset_param([*rows, rows[0]], names, False) is not None  # DO NOTHING takes a duplicate
    extra = [{**rows[0], "unused": object()}]
    assert json.loads(recordset_param(extra, names, True) or "") == [rows[0]]
