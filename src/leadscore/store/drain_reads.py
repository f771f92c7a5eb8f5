"""What the rescoring worker's drains read of their leads besides the events, in one statement per
chunk of leads (leadscore.store.pending).

A drain read each lead's stamp (`stamps`: its attributes, its stored result's time, model
and score, its events' count, last and sum of log positions) and then its state (`load_lead_states`:
the lead, its stored result row, whether it is queued): two statements over the same rows, the
attributes decoded twice, and on SQLite the stamp's three correlated subqueries walked each lead's
index range three times. Here both come from one statement, on the driver (plain tuples: SQLAlchemy's
rows and its JSON processors cost more than the reads), the events' three figures from one pass.
The stamps alone (`stamps`: the drain's check under the leads' locks that nothing changed since its
read) and the store's active model (`active_version`) are read here too.
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
from leadscore.store.tables import events, leads, models, results

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
# PostgreSQL: a lead at a time from an array, as `PG_STAMPS` reads the stamps
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
    """`stamps`' stamps (empty for a lead that is gone) and `load_lead_states`' leads, result
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


# -- the stamps alone (the drain's check under the lock, `pending._write`) --------------------------------


def _stamps_query() -> sa.Select[Any]:
    e = events.alias("e")
    count = sa.select(sa.func.count()).where(e.c.lead_id == leads.c.id).scalar_subquery()
    last = sa.select(sa.func.max(e.c.seq)).where(e.c.lead_id == leads.c.id).scalar_subquery()
    total = sa.select(sa.func.sum(e.c.seq)).where(e.c.lead_id == leads.c.id).scalar_subquery()
    cols = (leads.c.id, leads.c.attributes, results.c.evaluated_at, results.c.model_version, results.c.score)
    active = sa.select(models.c.version).where(models.c.active.is_(True)).scalar_subquery()
    query = sa.select(*cols, count, last, total, active).select_from(
        leads.outerjoin(results, results.c.lead_id == leads.c.id)
    )
    return query.where(leads.c.id.in_(sa.bindparam("ids", expanding=True)))


# The portable statement (tests/store/test_drain_reads.py compares the stores' own with it): SQLite runs
# `drain_reads.STAMPS_SQLITE`, one pass over each lead's events where this one walks them three times
STAMPS = _stamps_query()
# The same on PostgreSQL, a lead at a time from an array (as events_repo reads timelines there: an
# IN list planned for any parameters compares each row with every id) and one pass over each lead's
# events for both the count and the last seq: 5 ms instead of 10 for a drain's 200 leads of 35 events.
PG_STAMPS = (
    "SELECT t.id, l.attributes, r.evaluated_at, r.model_version, r.score, c.n, c.last, c.total, "
    "(SELECT version FROM models WHERE active IS true) "
    "FROM unnest(CAST(%s AS text[])) AS t(id) JOIN leads AS l ON l.id = t.id "
    "LEFT JOIN results AS r ON r.lead_id = t.id CROSS JOIN LATERAL "
    "(SELECT count(*) AS n, max(e.seq) AS last, sum(e.seq) AS total FROM events AS e WHERE e.lead_id = t.id) AS c"
)
_ACTIVE = sa.select(models.c.version).where(models.c.active.is_(True))


def stamps(conn: Connection, ids: Sequence[str]) -> tuple[dict[str, tuple[Any, ...]], str | None]:
    """What a lead's rescoring reads, in brief: its attributes, its stored result (time, model, score)
    and its events (how many, the last seq, the sum of seqs: the last three, which
    `leadscore.store.timeline_cache` checks its copies against). Any write to one of them changes the
    stamp. One query,
    which also reads the store's active model (`active_version`): one statement less per drain."""
    out: dict[str, tuple[Any, ...]] = dict.fromkeys(ids, ())
    active: str | None = None
    found = False
    postgres = conn.dialect.paramstyle != "qmark"
    for part in chunks(sorted(set(ids))):
        rows: Sequence[Any]
        if postgres:
            rows = conn.exec_driver_sql(PG_STAMPS, (list(part),)).all()
        else:  # one pass over each lead's events (`drain_reads`), the attributes decoded as SQLAlchemy does
            rows = [(r[0], json_value(r[1]), *r[2:]) for r in conn.exec_driver_sql(STAMPS_SQLITE, (ids_json(part),))]
        for lead, *stamp, version in rows:
            # the sum as an int: PostgreSQL's sum of bigints is a numeric (a Decimal), SQLite's an int
            out[lead] = (*stamp[:-1], None if stamp[-1] is None else int(stamp[-1]))
            active, found = version, True
    if not found:  # every lead erased meanwhile: the active model still answers the caller's check
        active = active_version(conn)
    return out, active


def active_version(conn: Connection) -> str | None:
    """The store's name (fingerprint) of its active model, as `ScoringModel` fingerprints name it."""
    return conn.execute(_ACTIVE).scalar()
