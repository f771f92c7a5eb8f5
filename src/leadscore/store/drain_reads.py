"""What the rescoring worker's drains read of their leads besides the events, in one statement per
chunk of leads (leadscore.store.pending).

A drain read each lead's stamp (`pending._stamps`: its attributes, its stored result's time, model
and score, its events' count, last and sum of log positions) and then its state (`load_lead_states`:
the lead, its stored result row, whether it is queued): two statements over the same rows, the
attributes decoded twice, and on SQLite the stamp's three correlated subqueries walked each lead's
index range three times. Here both come from one statement, on the driver (plain tuples: SQLAlchemy's
rows and its JSON processors cost more than the reads), the events' three figures from one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.domain import Lead
from leadscore.store.events_repo import json_value
from leadscore.store.leads_repo import chunks, ids_json
from leadscore.store.results_repo import load_lead_states, state_rows
from leadscore.store.tables import results

Stamp = tuple[Any, ...]
_NAMES = [c.name for c in results.columns]
# positions in a state row (`state_rows`: id, attributes, active model, then the results' columns)
_JSON = [3 + i for i, c in enumerate(results.columns) if isinstance(c.type, sa.JSON)]
_AT, _VERSION, _SCORE = (3 + _NAMES.index(name) for name in ("evaluated_at", "model_version", "score"))

# SQLite: the leads from one JSON array of ids (a drain's 200); the events' figures from one grouped
# pass over the (lead_id, ts, seq) index. A lead without events has no group: a count of 0, no last nor sum.
_EVENT_FIGURES_SQLITE = (
    "LEFT JOIN (SELECT lead_id, count(*) AS n, max(seq) AS last, sum(seq) AS total FROM events "
    "WHERE lead_id IN (SELECT value FROM json_each(?1)) GROUP BY lead_id) AS c ON c.lead_id = l.id "
    "WHERE l.id IN (SELECT value FROM json_each(?1))"
)
STAMPS_SQLITE = (
    "SELECT l.id, l.attributes, r.evaluated_at, r.model_version, r.score, coalesce(c.n, 0), c.last, c.total, "
    "(SELECT version FROM models WHERE active IS 1) FROM leads AS l LEFT JOIN results AS r ON r.lead_id = l.id "
    + _EVENT_FIGURES_SQLITE
)
_STATES_SQLITE = (
    "SELECT l.id, l.attributes, (SELECT version FROM models WHERE active IS 1), "
    + ", ".join(f"r.{name}" for name in _NAMES)
    + ", b.events_seen, p.lead_id, coalesce(c.n, 0), c.last, c.total FROM leads AS l "
    "LEFT JOIN results AS r ON r.lead_id = l.id LEFT JOIN result_basis AS b ON b.lead_id = l.id "
    "LEFT JOIN pending_rescore AS p ON p.lead_id = l.id " + _EVENT_FIGURES_SQLITE
)
# PostgreSQL: a lead at a time from an array, as `pending._PG_STAMPS` reads the stamps
_STATES_PG = (
    "SELECT t.id, l.attributes, (SELECT version FROM models WHERE active IS true), "
    + ", ".join(f"r.{name}" for name in _NAMES)
    + ", b.events_seen, p.lead_id, c.n, c.last, c.total "
    "FROM unnest(CAST(%s AS text[])) AS t(id) JOIN leads AS l ON l.id = t.id "
    "LEFT JOIN results AS r ON r.lead_id = t.id LEFT JOIN result_basis AS b ON b.lead_id = t.id "
    "LEFT JOIN pending_rescore AS p ON p.lead_id = t.id CROSS JOIN LATERAL "
    "(SELECT count(*) AS n, max(e.seq) AS last, sum(e.seq) AS total FROM events AS e WHERE e.lead_id = t.id) AS c"
)


def states_and_stamps(
    conn: Connection, lead_ids: Sequence[str], queued: set[str]
) -> tuple[dict[str, Stamp], dict[str, Lead], dict[str, dict[str, Any]], str | None]:
    """`pending._stamps`' stamps (empty for a lead that is gone) and `load_lead_states`' leads, result
    rows and active model (`queued` receives the queued ids), from one statement per chunk."""
    stamps: dict[str, Stamp] = dict.fromkeys(lead_ids, ())
    found: dict[str, Lead] = {}
    rows: dict[str, dict[str, Any]] = {}
    active: str | None = None
    postgres = conn.dialect.paramstyle != "qmark"
    for part in chunks(sorted(set(lead_ids))):
        if postgres:
            read = conn.exec_driver_sql(_STATES_PG, (list(part),))
        else:
            read = conn.exec_driver_sql(_STATES_SQLITE, (ids_json(part),))
        got = read.cursor.fetchall()
        read.close()
        states = []
        for row in got:
            state = list(row[:-3])
            if not postgres:  # the driver's JSON text, decoded as SQLAlchemy's JSON type decodes it
                state[1] = json_value(state[1])
                if state[3] is not None:
                    for i in _JSON:
                        state[i] = None if state[i] is None else json_value(state[i])
            states.append(state)
            count, last, total = row[-3:]
            # the sum as an int: PostgreSQL's sum of bigints is a numeric (a Decimal), SQLite's an int
            total = None if total is None else int(total)
            stamps[row[0]] = (state[1], state[_AT], state[_VERSION], state[_SCORE], count, last, total)
        active = state_rows(states, found, rows, queued, active)
    if not found:  # no lead to read: the model's fingerprint still answers the caller's check
        active = load_lead_states(conn, [], None)[2]
    return stamps, found, rows, active
