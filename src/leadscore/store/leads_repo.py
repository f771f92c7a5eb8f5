"""Leads: creation on first sight, attribute upserts with history, accounts, alias resolution."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.domain import Lead
from leadscore.io.plain import plain
from leadscore.store.base import LeadStore
from leadscore.store.tables import aliases, lead_attribute_history, leads

CHUNK = 5000


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def account_of(attributes: Mapping[str, Any]) -> str | None:
    """The B2B account of a lead: its `account` attribute, else the domain of its `email`."""
    account = attributes.get("account")
    if account is not None and str(account).strip():
        return str(account).strip()
    email = attributes.get("email")
    if isinstance(email, str) and "@" in email:
        domain = email.rsplit("@", 1)[1].strip().lower()
        return domain or None
    return None


NEW_LEADS = "INSERT INTO leads (id, attributes, account, created_at, updated_at) "
# PostgreSQL: every id in one array, inserted in id order (one order for every writer: no deadlock)
_NEW_LEADS_PG = (
    NEW_LEADS + "SELECT id, CAST('{}' AS jsonb), NULL, %s, %s FROM unnest(CAST(%s AS text[])) AS t(id) ORDER BY id "
)
# the conflict branch updates nothing (`WHERE false`) but locks the stored row, as `SELECT ... FOR
# UPDATE` would, in the same id order
LOCKING = "ON CONFLICT (id) DO UPDATE SET updated_at = leads.updated_at WHERE false"


def ensure_leads(store: LeadStore, conn: Connection, lead_ids: Iterable[str], now: int) -> None:
    """Create the leads that do not exist yet, without attributes: a lead may appear through behaviour.

    One statement in the driver's SQL: through SQLAlchemy, its parameters for the 2,000 leads of a
    10,000-event request cost more CPU than the insert (~2 µs per event on SQLite)."""
    _new_leads(conn, sorted(set(lead_ids)), now, "ON CONFLICT DO NOTHING")


def new_leads_sql(qmark: bool, ids: list[str], now: int, conflict: str = "ON CONFLICT DO NOTHING") -> tuple[str, Any]:
    """The one statement creating leads `ids` (sorted) without attributes, in the driver's SQL, with its
    parameters: on SQLite (`qmark`) for an executemany (the write lock is held already), on
    PostgreSQL for one execute. The intake's driver-level append (`events_repo`) runs it too."""
    if qmark:
        return NEW_LEADS + f"VALUES (?, '{{}}', NULL, ?, ?) {conflict}", [(i, now, now) for i in ids]
    return _NEW_LEADS_PG + conflict, (now, now, ids)


# True when none of the ids of the subquery `{}` is an alias (an identified visitor's id, a merged
# lead's): evaluated in one statement's snapshot, it lets the real-time writes go under the ids as
# received without looking the aliases up first (a round trip); aliases are never removed.
NO_ALIAS = "NOT EXISTS (SELECT 1 FROM aliases WHERE alias = ANY(ARRAY({})))"
# PostgreSQL: the ids of one JSON array parameter (`ids_json`), as the real-time statements take them:
# psycopg dumps a text parameter for a fraction of what it spends on a list as a text[] array (the
# real-time append's three arrays were a fifth of its CPU in the driver)
JSON_IDS = "SELECT json_array_elements_text(CAST(%s AS json)) AS id"


def unaliased_leads_sql(ids: list[str], now: int) -> tuple[str, Any]:
    """PostgreSQL: `new_leads_sql(False, ids, now, LOCKING)` (leads `ids`, sorted, created or locked in
    id order), doing nothing if any of `ids` is an alias (NO_ALIAS); parameters for one execute."""
    sql = f"WITH t AS ({JSON_IDS}) " + NEW_LEADS + "SELECT id, CAST('{}' AS jsonb), NULL, %s, %s FROM t "
    return sql + f"WHERE {NO_ALIAS.format('SELECT id FROM t')} ORDER BY id {LOCKING}", (ids_json(ids), now, now)


# SQLite, more ids than this (a bulk request's 2,000 leads): one statement reads them from one JSON array
# parameter (`json_each`), where an executemany binds and runs the statement once per id; for the leads
# and the queue marks of a 10,000-event request, 0.43-0.54 -> 0.14-0.18 µs of CPU per event (a bare copy
# of the two tables). A few ids (a real-time event's) keep the executemany.
MANY_IDS = 64


def ids_json(ids: Sequence[str]) -> str:
    """The ids as one JSON array for `json_each` (UTF-8 as they are: an id SQLite could not take as a
    parameter is refused here as it would be there)."""
    return json.dumps(list(ids), ensure_ascii=False)


def _new_leads(conn: Connection, ids: list[str], now: int, conflict: str) -> None:
    if not ids:
        return
    if conn.dialect.paramstyle == "qmark" and len(ids) > MANY_IDS:
        # in array order (ids sorted), as the executemany inserts them; WHERE true: SQLite's parser reads
        # an ON CONFLICT after a bare SELECT ... FROM as a join constraint
        sql = NEW_LEADS + f"SELECT value, '{{}}', NULL, ?, ? FROM json_each(?) WHERE true {conflict}"
        conn.exec_driver_sql(sql, (now, now, ids_json(ids)))
        return
    conn.exec_driver_sql(*new_leads_sql(conn.dialect.paramstyle == "qmark", ids, now, conflict))


def ensure_locked(
    store: LeadStore, conn: Connection, lead_ids: Iterable[str], now: int, also: Iterable[str] = ()
) -> None:
    """`ensure_leads(lead_ids)`, then `store.lock_leads` of those and `also` (ids that may not be leads).

    Where an upsert locks the row it finds (`store.upsert_locks`), one statement does both (`LOCKING`):
    for a real-time event, one round trip instead of two.
    """
    ids = sorted(set(lead_ids))
    extra = set(also) - set(ids)
    if not store.upsert_locks or extra:
        ensure_leads(store, conn, ids, now)
        store.lock_leads(conn, sorted(set(ids) | extra))
        return
    _new_leads(conn, ids, now, LOCKING)


# built once (an expanding parameter): SQLAlchemy reuses their cache key and compiled form
_IDS: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
_LEADS = sa.select(leads.c.id, leads.c.attributes).where(leads.c.id.in_(_IDS))
_ALIASES = sa.select(aliases.c.alias, aliases.c.lead_id).where(aliases.c.alias.in_(_IDS))


def load_leads(conn: Connection, lead_ids: Sequence[str]) -> dict[str, Lead]:
    out: dict[str, Lead] = {}
    for part in chunks(list(lead_ids)):
        for row in conn.execute(_LEADS, {"ids": list(part)}):
            out[row.id] = Lead(row.id, row.attributes or {})
    return out


def upsert_attributes(store: LeadStore, conn: Connection, batch: Sequence[Lead], now: int, source: str) -> list[str]:
    """Merge each lead's given attributes into the stored ones; returns the ids that changed.

    Keys the input leaves out are kept; every change is recorded as {key: [old, new]}.
    """
    ids = [lead.id for lead in batch]
    ensure_locked(store, conn, ids, now)
    stored = load_leads(conn, ids)
    changed: list[str] = []
    history: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for lead in batch:
        old = dict(stored[lead.id].attributes)
        given = plain(dict(lead.attributes))  # as JSON keeps it (times as ISO text), so a reload scores the same
        new = {**old, **given}
        diff = {
            k: [old.get(k), v] for k, v in given.items() if k not in old or old[k] != v or type(old[k]) is not type(v)
        }
        if not diff:
            continue
        stored[lead.id] = Lead(lead.id, new)  # a lead given twice in the batch: the second sees the first
        updates.append({"b_id": lead.id, "b_attrs": new, "b_account": account_of(new), "b_at": now})
        history.append({"lead_id": lead.id, "at": now, "changes": diff, "source": source})
        changed.append(lead.id)
    if updates:
        by_id = {u["b_id"]: u for u in updates}  # the last state of a lead given twice
        values: dict[str, Any] = {
            "attributes": sa.bindparam("b_attrs"),
            "account": sa.bindparam("b_account"),
            "updated_at": sa.bindparam("b_at"),
        }
        stmt = leads.update().where(leads.c.id == sa.bindparam("b_id")).values(**values)
        for part in chunks(list(by_id.values())):
            conn.execute(stmt, list(part))
    if history:
        conn.execute(lead_attribute_history.insert(), history)
    return changed


def resolve_aliases(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """alias -> lead for those of `ids` that are aliases (merged or identified visitors)."""
    found: dict[str, str] = {}
    for part in chunks(sorted(set(ids))):
        for row in conn.execute(_ALIASES, {"ids": list(part)}):
            found[row.alias] = row.lead_id
    return found
